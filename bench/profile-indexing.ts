/**
 * A V8 CPU profile of one real index job (the same runtime and IndexJobs path the server uses),
 * written as a `.cpuprofile` (open it in Chrome DevTools › Performance, or speedscope) with the
 * functions that took the most self time printed. Only JavaScript on the main thread is sampled
 * (what `node --cpu-prof` records): libvips' and onnxruntime's own threads do not appear, the
 * main thread's waits show as "(idle)".
 *
 *   npx tsx bench/profile-indexing.ts [model] [WIDTHxHEIGHT] [count] [top]
 */
import { Session } from 'node:inspector/promises';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
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
  const parent = new Map<number, ProfileNode>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n);
  const describe = (frame: ProfileNode['callFrame']) =>
    `${frame.functionName || '(anonymous)'}` +
    (frame.url
      ? ` ${relative(process.cwd(), frame.url.replace(/^file:\/\//, ''))}:${frame.lineNumber + 1}`
      : '');
  const totals = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const next = profile.timeDeltas[i + 1] ?? 0; // a sample's time is the gap to the next one
    const node = byNode.get(id)!;
    const caller = parent.get(id)?.callFrame;
    // Native code has no script; V8 names some native frames after an unrelated native class,
    // so its JavaScript caller says what it really was.
    const native = !node.callFrame.url && !node.callFrame.functionName.startsWith('(') && caller;
    const key = describe(node.callFrame) + (native ? ` ← ${describe(caller)}` : '');
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
  // Kept out of git (a few MB each), beside the generated photos.
  const out = resolve(`.cache/profiles/index-${modelId}-${size}.cpuprofile`);
  await mkdir(dirname(out), { recursive: true });
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
