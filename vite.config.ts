import { sveltekit } from '@sveltejs/kit/vite';
import { svelteTesting } from '@testing-library/svelte/vite';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [sveltekit()],
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  test: {
    expect: { requireAssertions: true },
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['tests/**/*.test.ts', 'src/**/*.spec.ts'],
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
