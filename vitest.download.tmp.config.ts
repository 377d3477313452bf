import { defineConfig } from 'vitest/config';
export default defineConfig({ oxc: { tsconfig: false } as never, test: { environment: 'node', expect: { requireAssertions: true } } });
