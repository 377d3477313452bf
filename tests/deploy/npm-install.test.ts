import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * `npm ci` must not download onnxruntime-node's CUDA files (the CPU build is bundled; the download
 * fails offline) and no npm command may open with a warning. npm 11.16+ reads the decision from
 * package.json's `allowScripts`; an unknown `.npmrc` key (the old `onnxruntime-node-install=skip`)
 * made every npm and npx command print "Unknown project config" first.
 */
const json = async (path: string) => JSON.parse(await readFile(path, 'utf8')) as unknown;

describe('npm install policy', () => {
  it('decides for every dependency with an install script, and skips the CUDA download', async () => {
    const pkg = (await json('package.json')) as { allowScripts?: Record<string, boolean> };
    const lock = (await json('package-lock.json')) as {
      packages: Record<string, { hasInstallScript?: boolean }>;
    };
    const withScripts = new Set(
      Object.entries(lock.packages)
        .filter(([, entry]) => entry.hasInstallScript)
        .map(([path]) => path.split('node_modules/').pop()!)
    );
    expect(withScripts.size).toBeGreaterThan(0);
    for (const name of withScripts) expect(pkg.allowScripts, name).toHaveProperty([name]);
    expect(pkg.allowScripts?.['onnxruntime-node']).toBe(false);
  });

  it('prints no warning before a command', async () => {
    const npmrc = await readFile('.npmrc', 'utf8');
    expect(npmrc).not.toMatch(/onnxruntime/);
    const { stdout, stderr } = await promisify(execFile)('npm', ['pkg', 'get', 'name']);
    expect(stdout.trim()).toBe('"lookalike"');
    expect(stderr).not.toMatch(/warn/i);
  });
});
