import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { ModelInfo } from '$lib/api/types';

/** The encoder's life across collections, with the model loading and the server faked. */

const fake = vi.hoisted(() => ({
  infos: new Map<string, ModelInfo>(),
  created: [] as { id: string; collection: string | undefined }[],
  saved: [] as { id: string; collection: string | undefined }[]
}));

vi.mock('$lib/encoder', () => ({
  fetchModelInfo: vi.fn(async (collection = 'default') => {
    const info = fake.infos.get(collection);
    if (!info) throw new Error(`no collection ${collection}`);
    return { info, fromCache: false };
  }),
  BrowserEncoder: {
    create: vi.fn(async (info: ModelInfo, options: { collection?: string }) => {
      fake.created.push({ id: info.id, collection: options.collection });
      return { backend: 'wasm', threads: 1, fallbackReason: undefined, dispose: vi.fn() };
    })
  }
}));
vi.mock('$lib/encoder/model-cache', async (original) => ({
  ...(await original<typeof import('$lib/encoder/model-cache')>()),
  saveModelInfo: vi.fn(async (info: ModelInfo, collection?: string) => {
    fake.saved.push({ id: info.id, collection });
  })
}));

const model = (id: string, v: string, collection = 'default') =>
  ({
    id,
    name: id,
    dimension: 4,
    synthetic: false,
    fileUrl: `/api/model/file?v=${v}${collection === 'default' ? '' : `&collection=${collection}`}`,
    fileBytes: 10
  }) as unknown as ModelInfo;

async function freshState() {
  vi.resetModules();
  const { EncoderState } = await import('./encoder.svelte');
  return new EncoderState();
}

beforeEach(() => {
  fake.infos.clear();
  fake.created = [];
  fake.saved = [];
  fake.infos.set('default', model('resnet50', 'r1'));
  fake.infos.set('products', model('resnet50', 'r1', 'products'));
  fake.infos.set('wallpapers', model('efficientnet-lite0', 'e1', 'wallpapers'));
});

describe('EncoderState across collections', () => {
  it('keeps the running model for a collection of the same model', async () => {
    const state = await freshState();
    await state.start('wasm');
    const encoder = state.encoder;
    expect(fake.created).toEqual([{ id: 'resnet50', collection: 'default' }]);

    expect(await state.useCollection('products')).toBe(false);
    expect(state.encoder).toBe(encoder);
    expect(state.phase).toBe('ready');
    expect(state.infoCollection).toBe('products');
    expect(fake.created).toHaveLength(1);
    // Remembered for offline use: this collection's model is that cached file.
    expect(fake.saved).toEqual([{ id: 'resnet50', collection: 'products' }]);
  });

  it("loads another collection's other model in place of the running one", async () => {
    const state = await freshState();
    await state.start('wasm');
    expect(await state.useCollection('wallpapers')).toBe(true);
    await state.whenReady();
    expect(state.info?.id).toBe('efficientnet-lite0');
    expect(state.infoCollection).toBe('wallpapers');
    expect(fake.created).toEqual([
      { id: 'resnet50', collection: 'default' },
      { id: 'efficientnet-lite0', collection: 'wallpapers' }
    ]);

    // And back: the first model again (its file comes from the browser's cache).
    expect(await state.useCollection('default')).toBe(true);
    await state.whenReady();
    expect(state.info?.id).toBe('resnet50');
  });

  it('before the first start, only notes which model to load', async () => {
    const state = await freshState();
    expect(await state.useCollection('wallpapers')).toBe(true);
    expect(fake.created).toEqual([]);
    await state.start('wasm');
    expect(fake.created).toEqual([{ id: 'efficientnet-lite0', collection: 'wallpapers' }]);
  });
});
