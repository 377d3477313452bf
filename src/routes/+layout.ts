// The app runs entirely in the browser; the Hono server only serves the static build.
export const ssr = false;
export const prerender = false;
