import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { resolve } from 'node:path';
import { benchEmbedding, type Row } from './embedding';

/**
 * `npm run bench`: measures, prints a table and writes bench/results/latest.json. Targets are
 * judged from ratios within one run; absolute times on shared 2-core machines are noisy.
 */
const threads = Number(process.env.LOOKALIKE_THREADS ?? availableParallelism());
const cacheDir = resolve(process.env.LOOKALIKE_MODEL_CACHE ?? '.cache/models');

const sections: Record<string, Row[]> = {};
sections.embedding = await benchEmbedding(cacheDir, threads);

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
await writeFile(
  'bench/results/latest.json',
  `${JSON.stringify({ environment, sections }, null, 2)}\n`
);
console.log(`\nWrote bench/results/latest.json (${JSON.stringify(environment)})`);
