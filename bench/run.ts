import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { resolve } from 'node:path';
import { benchBrowser } from './browser';
import { benchEmbedding, type Row } from './embedding';
import { benchIndexing } from './indexing';
import { benchLoad, benchUploads } from './load';
import { benchQuality } from './quality';
import { benchSearch } from './search';
import { benchSearchMilvus } from './search-milvus';
import { benchSnapshot } from './snapshot';
import { benchSse } from './sse';

/**
 * `npm run bench`: measures, prints a table and writes bench/results/latest.json. Targets are
 * judged from ratios within one run; absolute times on shared 2-core machines are noisy.
 */
const threads = Number(process.env.LOOKALIKE_THREADS ?? availableParallelism());
const cacheDir = resolve(process.env.LOOKALIKE_MODEL_CACHE ?? '.cache/models');

const sections: Record<string, Row[]> = {};
const only = process.argv.slice(2);
const want = (name: string) => only.length === 0 || only.includes(name);
if (want('embedding')) sections.embedding = await benchEmbedding(cacheDir, threads);
if (want('indexing')) sections.indexing = await benchIndexing(cacheDir, threads);
const sizes = (process.env.LOOKALIKE_BENCH_SIZES ?? '20000,100000').split(',').map(Number);
if (want('search')) sections.search = await benchSearch(sizes, threads);
// The embedded index beside a Milvus server (skipped, saying why, without an address).
if (want('search-milvus'))
  sections['search-milvus'] = await benchSearchMilvus(
    Number(process.env.LOOKALIKE_BENCH_MILVUS_SIZE ?? 100_000),
    Number(process.env.LOOKALIKE_BENCH_MILVUS_QUERIES ?? 200),
    process.env.LOOKALIKE_BENCH_MILVUS_ADDRESS,
    process.env.LOOKALIKE_BENCH_MILVUS_DATA_DIR
  );
if (want('load'))
  sections.load = [...(await benchLoad(cacheDir)), ...(await benchUploads(cacheDir))];
if (only.includes('uploads')) sections.uploads = await benchUploads(cacheDir); // also part of load
if (want('sse')) sections.sse = await benchSse(cacheDir);
if (want('browser')) sections.browser = await benchBrowser(cacheDir, threads);
if (want('snapshot')) sections.snapshot = await benchSnapshot();
if (want('quality')) sections.quality = await benchQuality(cacheDir, threads);

const environment = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: availableParallelism(),
  threads
};
for (const [section, rows] of Object.entries(sections)) {
  console.log(`\n## ${section}`);
  console.log('| measurement | value | note |\n|---|---|---|');
  for (const r of rows)
    console.log(`| ${r.name} | ${r.value.toFixed(2)} ${r.unit} | ${r.note ?? ''} |`);
}
await mkdir('bench/results', { recursive: true });
const output = `bench/results/${only.length ? only.join('-') : 'latest'}.json`;
await writeFile(output, `${JSON.stringify({ environment, sections }, null, 2)}\n`);
console.log(`\nWrote ${output} (${JSON.stringify(environment)})`);
