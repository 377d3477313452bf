import { sveltekit } from '@sveltejs/kit/vite';
import { svelteTesting } from '@testing-library/svelte/vite';
import type { Plugin } from 'vite';
import { configDefaults, defineConfig } from 'vitest/config';

/**
 * `npm run test:fast` (LOOKALIKE_TEST_TIER=fast): the inner loop — core, services, HTTP through
 * app.request, SQLite and usearch, components — without the web build, the real model, child
 * processes, Chromium or store servers. `npm test` runs everything (what .ci/run runs).
 */
const fast = process.env.LOOKALIKE_TEST_TIER === 'fast';
const SLOW_TESTS = [
  'tests/browser/**',
  'tests/quality/**',
  'tests/scaleout/**',
  'tests/cli/**',
  'tests/stores/mysql-*',
  'tests/stores/milvus-*',
  'tests/server/cli.test.ts',
  'tests/server/efficientnet-import.test.ts',
  'tests/server/float16-copy.test.ts',
  'tests/server/full-disk.test.ts',
  'tests/server/first-run-cli.test.ts',
  'tests/services/crash.test.ts',
  'tests/http/openapi-conformance.test.ts',
  'tests/http/serve*.test.ts'
];

/**
 * `vite dev` and `vite preview` serve the page cross-origin isolated, like the real server does,
 * so onnxruntime-web gets its threads there too (`server.headers` does not reach SvelteKit's
 * page responses; middleware does).
 */
function crossOriginIsolation(): Plugin {
  const isolate = (
    _req: unknown,
    res: { setHeader(name: string, value: string): void },
    next: () => void
  ) => {
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    next();
  };
  return {
    name: 'lookalike-cross-origin-isolation',
    configureServer: (server) => void server.middlewares.use(isolate),
    configurePreviewServer: (server) => void server.middlewares.use(isolate)
  };
}

/** In development the API is the real server (`npm start`, port 5000 unless LOOKALIKE_API). */
const api = { '/api': process.env.LOOKALIKE_API ?? 'http://127.0.0.1:5000' };

export default defineConfig({
  plugins: [crossOriginIsolation(), sveltekit()],
  server: { proxy: api },
  preview: { proxy: api },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  test: {
    expect: { requireAssertions: true },
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['tests/**/*.test.ts', 'src/**/*.spec.ts'],
          exclude: fast ? [...configDefaults.exclude, ...SLOW_TESTS] : configDefaults.exclude,
          environment: 'node',
          // ResNet-50 sessions, generated models and headless Chromium take seconds on 2 cores.
          testTimeout: 120_000,
          hookTimeout: 300_000,
          globalSetup: ['tests/global-setup.ts']
        }
      },
      {
        extends: true,
        plugins: [svelteTesting()],
        test: {
          name: 'components',
          include: ['src/**/*.svelte.test.ts'],
          environment: 'jsdom'
        }
      }
    ]
  }
});
