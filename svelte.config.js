import adapter from '@sveltejs/adapter-static';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
const config = {
  preprocess: vitePreprocess(),
  kit: {
    // A single-page app: the Hono server serves build/ and answers /api itself.
    adapter: adapter({ pages: 'build', assets: 'build', fallback: 'index.html' })
  }
};

export default config;
