/**
 * A V8 CPU profile of one real index job (the same runtime and IndexJobs path the server uses),
 * written as a `.cpuprofile` (open it in Chrome DevTools › Performance, or speedscope) with the
 * functions that took the most self time printed. Only JavaScript on the main thread is sampled
 * (what `node --cpu-prof` records): libvips' and onnxruntime's own threads do not appear, the
 * main thread's waits show as "(idle)".
 *
 *   npx tsx bench/profile-indexing.ts [model] [WIDTHxHEIGHT] [count] [top]
 */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { loadConfig } from '../server/config';
import { createRuntime } from '../server/runtime';
import { photoFolder } from './indexing';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Self time per function (name + file + line), largest first, in ms. */
export function selfTimes(profile: Profile) {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const next = profile.timeDeltas[i + 1] ?? 0; // a sample's time is the gap to the next one
    const frame = byNode.get(id)!.callFrame;
    const where = frame.url
      ? ` ${relative(process.cwd(), frame.url.replace(/^file:\/\//, ''))}:${frame.lineNumber + 1}`
      : '';
    const key = `${frame.functionName || '(anonymous)'}${where}`;
    totals.set(key, (totals.get(key) ?? 0) + next / 1000);
  });
  const total = (profile.endTime - profile.startTime) / 1000;
  return {
    total,
    top: [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([name, ms]) => ({ name, ms }))
  };
}

const [modelId = 'efficientnet-lite0', size = '500x375', count = '600', top = '25'] =
  process.argv.slice(2);
const [width, height] = size.split('x').map(Number) as [number, number];
const { dir } = await photoFolder(width, height, Number(count));
const dataDir = await mkdtemp(join(tmpdir(), 'lookalike-profile-'));
const config = loadConfig(
  {
    model: modelId,
    dataDir,
    threads: Number(process.env.LOOKALIKE_THREADS ?? availableParallelism())
  },
  {
    LOOKALIKE_MODEL_CACHE: resolve(process.env.LOOKALIKE_MODEL_CACHE ?? '.cache/models'),
    LOOKALIKE_IMAGE_ROOTS: dir,
    LOG_LEVEL: 'silent'
  }
);
const runtime = await createRuntime(config);
const session = new Session();
session.connect();
try {
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  const started = performance.now();
  const job = await runtime.jobs.waitFor((await runtime.jobs.start({ path: dir })).jobId);
  const wall = performance.now() - started;
  const { profile } = (await session.post('Profiler.stop')) as { profile: Profile };
  const out = resolve(`bench/results/index-${modelId}-${size}.cpuprofile`);
  await writeFile(out, JSON.stringify(profile));
  const { total, top: functions } = selfTimes(profile);
  console.log(
    `${modelId} ${size}: ${job.indexed} indexed in ${wall.toFixed(0)} ms ` +
      `(${((job.indexed * 1000) / wall).toFixed(1)} img/s); profile ${out}`
  );
  console.log(`| self ms | % of ${total.toFixed(0)} ms | function |\n|---|---|---|`);
  for (const f of functions.slice(0, Number(top)))
    console.log(`| ${f.ms.toFixed(1)} | ${((100 * f.ms) / total).toFixed(1)} | ${f.name} |`);
} finally {
  session.disconnect();
  await runtime.close();
  await rm(dataDir, { recursive: true, force: true });
}
