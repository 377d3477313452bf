import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DuplicateGroup } from '../../server/services/duplicates';
import { cleanupCliTempDirs, cliTempDir, runCli, type CliResult } from '../helpers/cli';
import { photoCorpus, type CorpusPicture } from '../helpers/photo-corpus';
import { editedCopies, QUALITY_SEED } from '../helpers/photo-edits';
import { realModel } from '../helpers/real-model';

/**
 * `lookalike duplicates` and `lookalike search` with the real model on real photographs, with
 * their defaults: the link threshold and the words come from the model's measured score bands
 * (models/efficientnet-lite0.json `scores`). Each corpus photo is in the collection with a
 * re-encoded copy, a resized copy, a crop and a caption-border edit; the photos themselves are
 * all different pictures, so any group holding two photos' files is a false duplicate.
 */

type Kind = 'original' | 're-encoded' | 'resized' | 'crop' | 'caption-border';

let photos: CorpusPicture[];
let dataDir: string;
let queries: string;
/** Path in the collection → which photo and which kind of copy. */
const fileOf = new Map<string, { of: string; kind: Kind }>();
const model = ['--model', 'efficientnet-lite0'];
const output = (r: CliResult) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;

beforeAll(async () => {
  await realModel();
  photos = photoCorpus().photos;
  const folder = await cliTempDir('lookalike-quality-dupes-');
  dataDir = await cliTempDir('lookalike-quality-dupes-data-');
  queries = await cliTempDir('lookalike-quality-dupes-query-');
  const root = join(folder, 'photos');
  await mkdir(root);
  for (const photo of photos) {
    const name = (kind: Kind, ext = '.jpg') =>
      join(root, `${photo.id.replaceAll('/', '__')}__${kind}${ext}`);
    const files: [Kind, string][] = [['original', name('original', extname(photo.path))]];
    await copyFile(photo.path, files[0]![1]);
    // EXIF orientation applied and transparency flattened, as an export or a messenger does.
    const upright = sharp(photo.path).rotate().flatten({ background: '#ffffff' });
    await writeFile(name('re-encoded'), await upright.clone().jpeg({ quality: 75 }).toBuffer());
    files.push(['re-encoded', name('re-encoded')]);
    const small = upright.clone().resize({ width: 640, height: 640, fit: 'inside' });
    await writeFile(name('resized'), await small.jpeg({ quality: 85 }).toBuffer());
    files.push(['resized', name('resized')]);
    const edits = ['crop', 'caption-border'] as const;
    const copies = await editedCopies(photo.path, photo.id, QUALITY_SEED, edits);
    for (const [i, kind] of edits.entries()) {
      await writeFile(name(kind), copies[i]!.bytes);
      files.push([kind, name(kind)]);
    }
    for (const [kind, path] of files) fileOf.set(path, { of: photo.id, kind });
  }
  const indexed = await runCli(['index', root, ...model], { dataDir, timeoutMs: 540_000 });
  expect(indexed.code, output(indexed)).toBe(0);
}, 600_000);

afterAll(cleanupCliTempDirs);

describe('lookalike duplicates with the real model and its measured defaults', () => {
  it('groups re-encoded and resized copies as same-picture, crops as similar-scene, never two photos', async () => {
    const r = await runCli(['duplicates', '--json', ...model], { dataDir, timeoutMs: 120_000 });
    expect(r.code, output(r)).toBe(0);
    // The default is the model's "same picture" band, measured — no fallback note.
    expect(r.stderr).not.toMatch(/no measured score bands/);
    const groups = JSON.parse(r.stdout) as DuplicateGroup[];
    for (const g of groups.filter((g) => g.reason === 'similar-scene'))
      expect(g.explanation).toContain('(threshold 0.8)');
    const filesOf = (g: DuplicateGroup) =>
      g.members.flatMap((m) => m.paths).map((p) => fileOf.get(p)!);

    // Unrelated photographs are never grouped, whatever the reason.
    const mixed = groups.filter((g) => new Set(filesOf(g).map((f) => f.of)).size > 1);
    expect(mixed.map((g) => g.explanation)).toEqual([]);

    const samePicture = new Map<string, Set<Kind>>();
    const sameScene = new Map<string, Set<Kind>>();
    for (const g of groups) {
      const into = g.reason === 'same-picture' ? samePicture : sameScene;
      for (const f of filesOf(g)) into.set(f.of, (into.get(f.of) ?? new Set()).add(f.kind));
    }
    const share = (map: Map<string, Set<Kind>>, ...kinds: Kind[]) =>
      photos.filter((p) => kinds.every((k) => map.get(p.id)?.has(k))).length / photos.length;
    const report = JSON.stringify({
      copies: share(samePicture, 'original', 're-encoded', 'resized'),
      cropSamePicture: share(samePicture, 'crop'),
      cropScene: share(sameScene, 'original', 'crop'),
      captionSamePicture: share(samePicture, 'caption-border'),
      captionScene: share(sameScene, 'original', 'caption-border')
    });
    // Every re-encoded and resized copy: cosine ≥ 0.917 and hashes ≤ 3 bits apart measured.
    expect(share(samePicture, 'original', 're-encoded', 'resized'), report).toBe(1);
    // A crop moves the coarse gradients (≥ 11 bits measured): a similar scene, never a copy.
    expect(share(samePicture, 'crop'), report).toBe(0);
    expect(share(sameScene, 'original', 'crop'), report).toBeGreaterThanOrEqual(0.75);
    // A caption border: mostly a similar scene (85 % of hashes more than 8 bits apart).
    expect(share(sameScene, 'original', 'caption-border'), report).toBeGreaterThanOrEqual(0.85);
    expect(share(samePicture, 'caption-border'), report).toBeLessThanOrEqual(0.3);
    console.info(`duplicates on the photo corpus: ${report}`);
  }, 180_000);
});

describe('lookalike search words with the real model', () => {
  it("labels a copy's matches and puts every other photo below the weaker-matches line", async () => {
    for (const photo of photos.filter((_, i) => i % 20 === 0)) {
      const query = join(queries, `${photo.id.replaceAll('/', '__')}.jpg`);
      await sharp(photo.path)
        .rotate()
        .flatten({ background: '#ffffff' })
        .resize({ width: 800, height: 800, fit: 'inside' })
        .jpeg({ quality: 60 })
        .toFile(query);
      const r = await runCli(['search', query, ...model], { dataDir, timeoutMs: 120_000 });
      expect(r.code, output(r)).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^\s*rank\s+score\s+match\s+path$/);
      const divider = lines.findIndex((l) => l.includes('-- weaker matches --'));
      expect(divider, output(r)).toBeGreaterThan(1);
      const rows = (from: number, to?: number) =>
        lines.slice(from, to).map((line) => {
          const path = line.slice(line.indexOf('/'));
          return { line, ...fileOf.get(path)! };
        });
      const above = rows(1, divider);
      // The copies of the query's picture lead, named as such; nothing else is above the line.
      expect(
        above.map((x) => x.of),
        output(r)
      ).toEqual(above.map(() => photo.id));
      expect(above[0]!.line, output(r)).toMatch(/^\s+1\s+0\.9\d+\s+Same picture\s+\//);
      expect(
        rows(divider + 1).every(
          (x) => x.of !== photo.id || x.kind === 'crop' || x.kind === 'caption-border'
        )
      ).toBe(true);
    }
  }, 300_000);
});
