import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { serveCommand } from '../../server/cli/commands/serve';
import { SETTINGS } from '../../server/config';
import { REPO_ROOT } from '../helpers/cli';

/**
 * The README's Configuration table is the one list of what can be set: every environment variable
 * the server and the CLI read is in it, with the default the code uses. A setting added to
 * server/config.ts (or a `process.env.X` read anywhere in server/ or bin/) without a row fails here.
 */

interface Row {
  flag: string;
  env: string;
  fallback: string;
  meaning: string;
}

async function configurationTable(): Promise<Map<string, Row>> {
  const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## Configuration$/m)[1]?.split(/^## /m)[0];
  expect(section, 'README.md has a "## Configuration" section').toBeDefined();
  const rows = new Map<string, Row>();
  for (const line of section!.split('\n')) {
    if (!line.startsWith('|') || /^\|[\s-|]+\|$/.test(line)) continue;
    const [flag, env, fallback, meaning] = line
      .slice(1, -1)
      .split('|')
      .map((cell) => cell.trim());
    if (env === 'environment') continue; // the header
    for (const name of env!.matchAll(/`([A-Z][A-Z0-9_]+)`/g))
      rows.set(name[1]!, { flag: flag!, env: env!, fallback: fallback!, meaning: meaning! });
  }
  return rows;
}

/** Every `process.env.NAME` (or `process.env['NAME']`) in the TypeScript and JavaScript under `dir`. */
async function environmentReads(dir: string): Promise<Set<string>> {
  const names = new Set<string>();
  for (const entry of await readdir(join(REPO_ROOT, dir), { recursive: true })) {
    if (!/\.(ts|js|mjs|cjs)$/.test(entry) || entry.includes('node_modules')) continue;
    const text = await readFile(join(REPO_ROOT, dir, entry), 'utf8');
    for (const match of text.matchAll(
      /process\.env(?:\.([A-Z][A-Z0-9_]*)|\[['"]([A-Z][A-Z0-9_]*)['"]\])/g
    ))
      names.add((match[1] ?? match[2])!);
  }
  return names;
}

describe("the README's Configuration table", () => {
  it('has a row for every setting in server/config.ts, with its default', async () => {
    const rows = await configurationTable();
    const missing = Object.values(SETTINGS)
      .map(({ env }) => env)
      .filter((env) => !rows.has(env));
    expect(missing, 'add these to the Configuration table in README.md').toEqual([]);
    for (const [key, { env, fallback }] of Object.entries(SETTINGS)) {
      const row = rows.get(env)!;
      expect(row.meaning, env).not.toBe('');
      // A default the code computes (all cores) is described in words instead of a number.
      if (fallback && key !== 'threads')
        expect(row.fallback, `${env}'s default in README.md`).toContain(`\`${fallback}\``);
    }
  });

  it('has a row for every environment variable read in server/ and bin/', async () => {
    const rows = await configurationTable();
    const read = new Set([
      ...(await environmentReads('server')),
      ...(await environmentReads('bin'))
    ]);
    expect(read.size).toBeGreaterThan(0);
    expect(
      [...read].filter((env) => !rows.has(env)),
      'add these to the Configuration table in README.md'
    ).toEqual([]);
  });

  it('names only flags that serve has (serve takes every one)', async () => {
    const flags = [...(await configurationTable()).values()]
      .map(({ flag }) => /`(--[a-z-]+)/.exec(flag)?.[1])
      .filter((flag): flag is string => flag !== undefined);
    expect(flags.length).toBeGreaterThan(5);
    const serveFlags = serveCommand().options.map((option) => option.long);
    expect(flags.filter((flag) => !serveFlags.includes(flag))).toEqual([]);
  });
});
