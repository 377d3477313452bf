import { describe, expect, it } from 'vitest';
import { collectionOfUrl } from '$lib/api/collection-scope';
import { imageUrl, thumbCacheCollection, thumbCacheName, thumbUrl } from './thumb-cache';

describe('thumbnail caches per collection', () => {
  it("keeps the default's names as before collections", () => {
    expect(thumbCacheName('1-tiny-abc')).toBe('lookalike-thumbs-1-tiny-abc');
    expect(thumbCacheName('1-tiny-abc', 'default')).toBe('lookalike-thumbs-1-tiny-abc');
    expect(thumbUrl(5)).toBe('/api/images/5/thumb');
    expect(imageUrl(5, 'default')).toBe('/api/images/5');
  });

  it('names the collection in the cache and in the URLs of any other', () => {
    const name = thumbCacheName('1-tiny-abc', 'wall-papers_2');
    expect(name).not.toBe(thumbCacheName('1-tiny-abc'));
    expect(thumbCacheCollection(name)).toBe('wall-papers_2');
    expect(thumbUrl(5, 'wall-papers_2')).toBe('/api/images/5/thumb?collection=wall-papers_2');
    expect(imageUrl(5, 'wall-papers_2')).toBe('/api/images/5?collection=wall-papers_2');
  });

  it('tells whose a cache is, and never takes one collection for another', () => {
    const epochs = ['1-tiny-abc', '1-resnet50-x_y-z', 'unknown'];
    const collections = ['default', 'a', 'a-b', 'default2', '_x'];
    const names = new Set<string>();
    for (const epoch of epochs) {
      for (const collection of collections) {
        const name = thumbCacheName(epoch, collection);
        expect(thumbCacheCollection(name)).toBe(collection);
        names.add(name);
      }
    }
    expect(names.size).toBe(epochs.length * collections.length);
    expect(thumbCacheCollection('lookalike-shell-123')).toBeUndefined();
    expect(thumbCacheCollection('lookalike-model-v1')).toBeUndefined();
  });

  it('reads the collection of a thumbnail request as the service worker does', () => {
    const at = (path: string) => collectionOfUrl(new URL(path, 'http://h'));
    expect(at(thumbUrl(3))).toBe('default');
    expect(at(thumbUrl(3, 'wallpapers'))).toBe('wallpapers');
    expect(at('/api/images/3/thumb?collection=..%2Fx')).toBe('default');
  });
});
