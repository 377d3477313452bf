import { existsSync } from 'node:fs';
import type { ModelManifest } from '#core/model-manifest';
import { differenceHash, hammingDistance } from '#core/dhash';
import { Embedder } from '../server/embedding/embedder';
import { createOnnxNodeBackend } from '../server/embedding/onnx-node-backend';
import { SharpImageDecoder } from '../server/embedding/sharp-decoder';
import { browserModelPath } from '../server/models/registry';
import { ModelUnavailableError, resolveModel } from '../server/models/resolve-model';
import { photoCorpus, type Category, type CorpusPicture } from '../tests/helpers/photo-corpus';
import {
  EDIT_KINDS,
  editedQueries,
  QUALITY_SEED,
  seededRandom,
  type EditKind,
  type EditedQuery
} from '../tests/helpers/photo-edits';
import { benchEmbedding, type Row } from './embedding';
import { benchIndexing } from './indexing';

/**
 * `npm run bench -- quality`: how well each way of comparing pictures finds edited copies of real
 * photographs (tests/helpers/photo-corpus.ts, photo-edits.ts — the same set the quality test
 * uses), and the score distributions a similarity threshold has to be chosen from. Every method
 * sees the very same decoded pixels, so the columns differ only by the model (or dHash).
 *
 * Definitions (the gallery is every corpus photo plus the non-photo distractors):
 * - recall@k: the edited copy's original is among the k best gallery matches.
 * - family mAP: the copy is ranked against the gallery plus every other edited copy; its family
 *   (the original and that photo's other edits) are the relevant items; mean average precision.
 * - precision@10 per category: a labelled photo's best matches among the other gallery pictures,
 *   share of the same category within the top min(10, category size − 1).
 * Ties (dHash has many) are broken in a seeded random order, so no method gains from list order.
 */

const CATEGORIES: Category[] = ['animal', 'landscape', 'plant'];
const QUANTILES = [0.05, 0.25, 0.5, 0.75, 0.95];
const THRESHOLD_AT = [0.95, 0.99, 1];

interface Item {
  id: string;
  input: string | Uint8Array;
}

/** A way of scoring two items of the set (higher is more alike). */
interface Method {
  name: string;
  similarity(a: number, b: number): number;
}

async function inParallel<T, R>(n: number, items: readonly T[], run: (item: T) => Promise<R>) {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await run(items[i]!);
  };
  await Promise.all(Array.from({ length: n }, worker));
  return out;
}

const dot = (a: Float32Array, b: Float32Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

const quantiles = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return QUANTILES.map((q) => quantile(sorted, q));
};

/** Average precision of a ranking (best first) whose relevant items are `relevant`. */
export function averagePrecision(ranking: readonly number[], relevant: ReadonlySet<number>) {
  let hits = 0;
  let sum = 0;
  ranking.forEach((item, i) => {
    if (relevant.has(item)) sum += ++hits / (i + 1);
  });
  return relevant.size === 0 ? 0 : sum / relevant.size;
}

interface MethodResult {
  name: string;
  /** Per edit kind, then 'all'. */
  recall1: Record<string, number>;
  recall10: Record<string, number>;
  map: Record<string, number>;
  /** Per category, then 'all'. */
  precision10: Record<string, number>;
  /** [p5, p25, p50, p75, p95] per distribution name. */
  scores: Record<string, number[]>;
  /** Share of edited copies scoring above the q-quantile of the best unrelated scores. */
  cleared: { q: number; threshold: number; share: number }[];
}

function evaluate(
  method: Method,
  gallery: readonly CorpusPicture[],
  queries: readonly EditedQuery[],
  tieBreak: Float64Array
): MethodResult {
  const n = gallery.length;
  const indexOf = new Map(gallery.map((g, i) => [g.id, i]));
  const rank = (from: number, candidates: number[]) =>
    candidates
      .map((c) => ({ c, s: method.similarity(from, c) }))
      .sort((x, y) => y.s - x.s || tieBreak[x.c]! - tieBreak[y.c]!)
      .map((x) => x.c);
  const galleryIds = gallery.map((_, i) => i);
  const all = Array.from({ length: n + queries.length }, (_, i) => i);
  const perQuery = queries.map((q, j) => {
    const self = n + j;
    const original = indexOf.get(q.of)!;
    const ranked = rank(self, galleryIds);
    const position = ranked.indexOf(original);
    const family = new Set<number>([original]);
    queries.forEach((other, k) => {
      if (other.of === q.of && k !== j) family.add(n + k);
    });
    const ap = averagePrecision(
      rank(
        self,
        all.filter((i) => i !== self)
      ),
      family
    );
    const toOriginal = method.similarity(self, original);
    const bestUnrelated = Math.max(
      ...galleryIds.filter((i) => i !== original).map((i) => method.similarity(self, i))
    );
    return { q, position, ap, toOriginal, bestUnrelated };
  });

  const kinds = [...EDIT_KINDS, 'all'];
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const over = (kind: string, f: (r: (typeof perQuery)[number]) => number) =>
    mean(perQuery.filter((r) => kind === 'all' || r.q.kind === kind).map(f));
  const recall1 = Object.fromEntries(kinds.map((k) => [k, over(k, (r) => +(r.position === 0))]));
  const recall10 = Object.fromEntries(
    kinds.map((k) => [k, over(k, (r) => +(r.position >= 0 && r.position < 10))])
  );
  const map = Object.fromEntries(kinds.map((k) => [k, over(k, (r) => r.ap)]));

  const precisions = new Map<string, number[]>();
  const sameCategory: number[] = [];
  gallery.forEach((photo, i) => {
    if (!photo.category) return;
    const members = gallery.filter((g) => g.category === photo.category).length;
    const k = Math.min(10, members - 1);
    const ranked = rank(
      i,
      galleryIds.filter((c) => c !== i)
    ).slice(0, k);
    const p = ranked.filter((c) => gallery[c]!.category === photo.category).length / k;
    for (const key of [photo.category, 'all'])
      precisions.set(key, [...(precisions.get(key) ?? []), p]);
    gallery.forEach((other, o) => {
      if (o > i && other.category === photo.category) sameCategory.push(method.similarity(i, o));
    });
  });
  const precision10 = Object.fromEntries(
    [...CATEGORIES, 'all'].map((c) => [c, mean(precisions.get(c) ?? [])])
  );

  const scores: Record<string, number[]> = {};
  for (const kind of EDIT_KINDS) {
    scores[`edited→original, ${kind}`] = quantiles(
      perQuery.filter((r) => r.q.kind === kind).map((r) => r.toOriginal)
    );
  }
  scores['edited→original, all edits'] = quantiles(perQuery.map((r) => r.toOriginal));
  scores['best unrelated, per query'] = quantiles(perQuery.map((r) => r.bestUnrelated));
  scores['same category, different photo'] = quantiles(sameCategory);
  // A "same picture" threshold set at a quantile of the best unrelated score: how many edited
  // copies still clear it (the rest would be shown as merely similar).
  const unrelated = perQuery.map((r) => r.bestUnrelated).sort((a, b) => a - b);
  const cleared = THRESHOLD_AT.map((q) => {
    const threshold = quantile(unrelated, q);
    return {
      q,
      threshold,
      share: mean(perQuery.map((r) => +(r.toOriginal > threshold)))
    };
  });
  return { name: method.name, recall1, recall10, map, precision10, scores, cleared };
}

/** Decoded once per input geometry: every model here shares ResNet's 256 → 224 preprocessing. */
function geometryKey(manifest: ModelManifest): string {
  const { resize, crop, interpolation, background } = manifest.preprocess;
  return JSON.stringify([
    manifest.input.width,
    manifest.input.height,
    resize,
    crop,
    interpolation,
    background
  ]);
}

async function cosineMethod(
  name: string,
  path: string,
  manifest: ModelManifest,
  pixels: Uint8Array[],
  threads: number,
  decoder: SharpImageDecoder
): Promise<{ method: Method; vectors: Float32Array[]; msPerImage: number }> {
  const backend = await createOnnxNodeBackend(path, manifest, { threads });
  const embedder = new Embedder(manifest, decoder, backend, 8);
  const vectors: Float32Array[] = [];
  const started = performance.now();
  for (let i = 0; i < pixels.length; i += 8) {
    vectors.push(...(await embedder.embedPixels(pixels.slice(i, i + 8))));
  }
  const msPerImage = (performance.now() - started) / pixels.length;
  await embedder.close();
  return {
    method: { name, similarity: (a, b) => dot(vectors[a]!, vectors[b]!) },
    vectors,
    msPerImage
  };
}

const f3 = (x: number) => x.toFixed(3);

function printTables(results: MethodResult[], chance: Record<string, number>, counts: string) {
  const header = (...columns: string[]) =>
    `| ${columns.join(' | ')} |\n|${columns.map(() => '---').join('|')}|`;
  const names = results.map((r) => r.name);
  console.log(`\n### Near-duplicates: recall@1 / recall@10 / family mAP (${counts})\n`);
  console.log(header('edit', ...names));
  for (const kind of [...EDIT_KINDS, 'all']) {
    const cells = results.map(
      (r) =>
        `${r.recall1[kind]!.toFixed(3)} / ${r.recall10[kind]!.toFixed(3)} / ${r.map[kind]!.toFixed(3)}`
    );
    console.log(`| ${kind === 'all' ? '**all edits**' : kind} | ${cells.join(' | ')} |`);
  }
  console.log('\n### Same category: precision@10 (share of the top min(10, members − 1))\n');
  console.log(header('category', ...names, 'chance'));
  for (const c of [...CATEGORIES, 'all']) {
    console.log(
      `| ${c} | ${results.map((r) => f3(r.precision10[c]!)).join(' | ')} | ${f3(chance[c]!)} |`
    );
  }
  for (const r of results) {
    console.log(`\n### Score distribution, ${r.name}: p5 / p25 / p50 / p75 / p95\n`);
    console.log(header('pairs', 'p5', 'p25', 'p50', 'p75', 'p95'));
    for (const [name, qs] of Object.entries(r.scores)) {
      console.log(`| ${name} | ${qs.map(f3).join(' | ')} |`);
    }
    const cleared = r.cleared.map(
      ({ q, threshold, share }) =>
        `${f3(share)} above ${f3(threshold)} (${q === 1 ? 'max' : `p${q * 100}`} of best unrelated)`
    );
    console.log(`\nEdited copies clearing a threshold: ${cleared.join('; ')}.`);
  }
}

export async function benchQuality(cacheDir: string, threads: number): Promise<Row[]> {
  const corpus = photoCorpus();
  const gallery = [...corpus.photos, ...corpus.distractors];
  const queries = await editedQueries(corpus.photos, QUALITY_SEED);
  const items: Item[] = [
    ...gallery.map((g) => ({ id: g.id, input: g.path })),
    ...queries.map((q) => ({ id: `${q.of} ${q.kind}`, input: q.bytes }))
  ];
  const decoder = new SharpImageDecoder({ maxPixels: 100_000_000, maxFileBytes: 1e9 });
  const rows: Row[] = [];
  const notes: string[] = [];

  // Models: the real one (fp32 and, when imported, its fp16 browser copy) and the synthetic one.
  const models: { name: string; path: string; manifest: ModelManifest }[] = [];
  try {
    const real = await resolveModel({ model: 'efficientnet-lite0', modelCacheDir: cacheDir });
    models.push({ name: 'efficientnet-lite0 fp32', ...real });
    const fp16 = browserModelPath(cacheDir, real.manifest);
    if (existsSync(fp16))
      models.push({ name: 'efficientnet-lite0 fp16', path: fp16, manifest: real.manifest });
    else notes.push(`no fp16 copy at ${fp16}`);
  } catch (error) {
    if (!(error instanceof ModelUnavailableError)) throw error;
    notes.push(`efficientnet-lite0 left out: ${error.message}`);
  }
  const synthetic = await resolveModel({ model: 'synthetic-resnet50', modelCacheDir: cacheDir });
  models.push({ name: 'synthetic-resnet50', ...synthetic });

  const decoded = new Map<string, Uint8Array[]>();
  const pixelsFor = async (manifest: ModelManifest) => {
    const key = geometryKey(manifest);
    if (!decoded.has(key)) {
      decoded.set(
        key,
        await inParallel(
          3,
          items,
          async (item) => (await decoder.decode(item.input, manifest)).pixels
        )
      );
    }
    return decoded.get(key)!;
  };

  const methods: Method[] = [];
  const vectorsByName = new Map<string, Float32Array[]>();
  for (const m of models) {
    const { method, vectors, msPerImage } = await cosineMethod(
      m.name,
      m.path,
      m.manifest,
      await pixelsFor(m.manifest),
      threads,
      decoder
    );
    methods.push(method);
    vectorsByName.set(m.name, vectors);
    rows.push({
      name: `${m.name}: model only over the set, batch 8`,
      value: msPerImage,
      unit: 'ms/img'
    });
  }
  // The product's dHash: over the model's 224×224 input pixels, as the indexer computes it.
  const dhashPixels = await pixelsFor(synthetic.manifest);
  const { width, height } = synthetic.manifest.input;
  const hashes = dhashPixels.map((p) => differenceHash(p, width, height));
  methods.push({
    name: 'dHash',
    similarity: (a, b) => 1 - hammingDistance(hashes[a]!, hashes[b]!) / 64
  });

  const fp32 = vectorsByName.get('efficientnet-lite0 fp32');
  const fp16 = vectorsByName.get('efficientnet-lite0 fp16');
  if (fp32 && fp16) {
    const agreement = fp32.map((v, i) => dot(v, fp16[i]!));
    rows.push({
      name: 'efficientnet-lite0 fp16 vs fp32: cosine of the same picture, mean',
      value: agreement.reduce((a, b) => a + b, 0) / agreement.length,
      unit: '',
      note: `min ${Math.min(...agreement).toFixed(5)} over ${agreement.length} pictures`
    });
  }

  const random = seededRandom(QUALITY_SEED, 99);
  const tieBreak = Float64Array.from(items, () => random());
  const results = methods.map((m) => evaluate(m, gallery, queries, tieBreak));
  const chance = Object.fromEntries(
    [...CATEGORIES, 'all'].map((c) => {
      const labelled = corpus.photos.filter((p) => p.category && (c === 'all' || p.category === c));
      const expected = labelled.map((p) => {
        const members = corpus.photos.filter((o) => o.category === p.category).length;
        return (members - 1) / (gallery.length - 1);
      });
      return [c, expected.reduce((a, b) => a + b, 0) / Math.max(1, expected.length)];
    })
  );
  const counts =
    `${corpus.photos.length} photos × ${EDIT_KINDS.length} edits = ${queries.length} queries, ` +
    `gallery ${gallery.length} (${corpus.distractors.length} non-photo distractors)`;
  printTables(results, chance, counts);
  for (const note of notes) console.log(`\nNote: ${note}`);

  for (const r of results) {
    for (const kind of [...EDIT_KINDS, 'all'] as (EditKind | 'all')[]) {
      const label = kind === 'all' ? 'all edits' : kind;
      rows.push({ name: `${r.name}: recall@1, ${label}`, value: r.recall1[kind]!, unit: '' });
      rows.push({ name: `${r.name}: recall@10, ${label}`, value: r.recall10[kind]!, unit: '' });
      rows.push({ name: `${r.name}: family mAP, ${label}`, value: r.map[kind]!, unit: '' });
    }
    for (const c of [...CATEGORIES, 'all']) {
      rows.push({
        name: `${r.name}: precision@10, ${c}`,
        value: r.precision10[c]!,
        unit: '',
        note: `chance ${f3(chance[c]!)}`
      });
    }
    for (const { q, threshold, share } of r.cleared) {
      rows.push({
        name: `${r.name}: edited copies above the ${q === 1 ? 'max' : `p${q * 100}`} of best unrelated`,
        value: share,
        unit: '',
        note: `threshold ${f3(threshold)}`
      });
    }
    for (const [name, qs] of Object.entries(r.scores)) {
      rows.push({
        name: `${r.name}: score p50, ${name}`,
        value: qs[2]!,
        unit: '',
        note: `p5 ${qs.map(f3).join(' · ')} p95`
      });
    }
  }

  // Speed of the real model beside the synthetic ResNet-50 (real graph, so real cost), in two
  // interleaved rounds keeping each row's better value: on a shared machine one round can land
  // on a burst of foreign load, and the two models should be compared on equal terms.
  const speedIds = ['efficientnet-lite0', 'synthetic-resnet50'].filter(
    (id) => id !== 'efficientnet-lite0' || models.some((m) => m.manifest.id === id)
  );
  const best = new Map<string, Row>();
  const keep = (r: Row) => {
    const seen = best.get(r.name);
    const better =
      r.unit === 'img/s' ? !seen || r.value > seen.value : !seen || r.value < seen.value;
    if (better) best.set(r.name, r);
  };
  for (let round = 0; round < 2; round++) {
    for (const id of speedIds) {
      for (const r of await benchEmbedding(cacheDir, threads, id))
        keep({ ...r, name: `${id}: ${r.name}` });
      for (const r of await benchIndexing(cacheDir, threads, [
        { modelId: id, count: 160, width: 1024, height: 768 }
      ]))
        keep({ ...r, name: `${id}: ${r.name}` });
    }
  }
  rows.push(...best.values());
  rows.push({ name: 'corpus', value: corpus.photos.length, unit: 'photos', note: counts });
  return rows;
}
