import type { BackendPreference } from '$lib/encoder';

/** Which onnxruntime-web backend the person wants: Auto tries WebGPU, then WebAssembly. */
export type { BackendPreference };

export const BACKEND_CHOICES: { value: BackendPreference; label: string }[] = [
  { value: 'auto', label: 'Auto' },
  { value: 'webgpu', label: 'WebGPU' },
  { value: 'wasm', label: 'WebAssembly' }
];

const STORAGE_KEY = 'lookalike.backend';

export function isBackendPreference(value: unknown): value is BackendPreference {
  return value === 'auto' || value === 'webgpu' || value === 'wasm';
}

/** `?backend=wasm|webgpu|auto` wins (tests and bug reports use it), then the saved choice. */
export function initialPreference(search: string, storage: Pick<Storage, 'getItem'> | undefined) {
  const fromUrl = new URLSearchParams(search).get('backend');
  if (isBackendPreference(fromUrl)) return fromUrl;
  let saved: string | null = null;
  try {
    saved = storage?.getItem(STORAGE_KEY) ?? null;
  } catch {
    // Storage can be disabled (private mode, policies): the default is fine.
  }
  return isBackendPreference(saved) ? saved : 'auto';
}

export function savePreference(
  value: BackendPreference,
  storage: Pick<Storage, 'setItem'> | undefined
): void {
  try {
    storage?.setItem(STORAGE_KEY, value);
  } catch {
    // Not saved: the choice still applies to this visit.
  }
}
