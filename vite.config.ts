import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [sveltekit()],
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  test: {
    include: ['tests/**/*.test.ts', 'src/**/*.spec.ts'],
    environment: 'node',
    // ResNet-50 sessions and generated models take seconds on 2 cores.
    testTimeout: 120_000,
    hookTimeout: 300_000,
    globalSetup: ['tests/global-setup.ts'],
    expect: { requireAssertions: true }
  }
});
