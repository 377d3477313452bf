import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The web app's production build, which the browser tests load from the real server. */
export const BUILD_DIR = resolve('build');
const STAMP = join(BUILD_DIR, '.build-stamp');
const LOCK = resolve('.cache/web-build.lock');
const INPUTS = ['src', 'static', 'svelte.config.js', 'vite.config.ts', 'package-lock.json'];

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = info.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

function isFresh(): boolean {
  if (!existsSync(STAMP)) return false;
  const built = statSync(STAMP).mtimeMs;
  return INPUTS.every((input) => newestMtime(resolve(input)) <= built);
}

/**
 * Runs `vite build` when any source is newer than the last build, so `npm test` always tests the
 * current app. A lock directory keeps two test runs from building into build/ at once.
 */
export async function ensureWebBuild(): Promise<void> {
  // For running server tests while the app is mid-edit; the browser tests then use the old build.
  if (process.env.LOOKALIKE_SKIP_WEB_BUILD === '1') return;
  if (isFresh()) return;
  mkdirSync(resolve('.cache'), { recursive: true });
  for (let waited = 0; ; waited += 500) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      if (waited > 300_000) rmSync(LOCK, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    if (isFresh()) return;
    const startedAt = Date.now();
    execFileSync(
      process.execPath,
      ['node_modules/vite/bin/vite.js', 'build', '--logLevel', 'warn'],
      // Vitest sets NODE_ENV=test, which would give Svelte's development build: test what ships.
      { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production' } }
    );
    writeFileSync(STAMP, new Date(startedAt).toISOString());
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}
