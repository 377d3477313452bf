import { describe, expect, it } from 'vitest';
import {
  addressFor,
  initialCollection,
  saveCollection,
  saveCollectionList,
  savedCollectionList
} from './collection-choice';

/** A Storage with only what the functions use. */
function memory(entries: Record<string, string> = {}) {
  const map = new Map(Object.entries(entries));
  return {
    getItem: (key: string) => map.get(key) ?? null,
    setItem: (key: string, value: string) => void map.set(key, value),
    map
  };
}

describe('which collection the page opens', () => {
  it('takes ?collection= first, then the saved choice, then the default', () => {
    const saved = memory({ 'lookalike.collection': 'wallpapers' });
    expect(initialCollection('?collection=products', saved)).toBe('products');
    expect(initialCollection('?backend=wasm', saved)).toBe('wallpapers');
    expect(initialCollection('', memory())).toBe('default');
    expect(initialCollection('', undefined)).toBe('default');
  });

  it('ignores names the server would refuse, in the address and in storage', () => {
    const saved = memory({ 'lookalike.collection': '-bad' });
    expect(initialCollection('?collection=no%20spaces', saved)).toBe('default');
    expect(initialCollection('?collection=' + 'x'.repeat(65), undefined)).toBe('default');
  });

  it('survives storage that throws (blocked in private modes)', () => {
    const blocked = {
      getItem: () => {
        throw new Error('blocked');
      },
      setItem: () => {
        throw new Error('blocked');
      }
    };
    expect(initialCollection('', blocked)).toBe('default');
    expect(() => saveCollection('wallpapers', blocked)).not.toThrow();
    expect(savedCollectionList(blocked)).toEqual([]);
  });

  it('remembers the choice for the next visit', () => {
    const storage = memory();
    saveCollection('products', storage);
    expect(initialCollection('', storage)).toBe('products');
  });
});

describe('addressFor', () => {
  it('names another collection in the query and keeps the rest', () => {
    expect(addressFor('http://h/?backend=wasm#collection', 'wallpapers')).toBe(
      'http://h/?backend=wasm&collection=wallpapers#collection'
    );
    expect(addressFor('http://h/?collection=a', 'b')).toBe('http://h/?collection=b');
  });

  it('leaves the default out, so the one-collection address stays as it was', () => {
    expect(addressFor('http://h/?collection=a&backend=wasm', 'default')).toBe(
      'http://h/?backend=wasm'
    );
    expect(addressFor('http://h/', 'default')).toBe('http://h/');
  });
});

describe('the list kept for offline use', () => {
  it('round-trips, and drops what is not a collection', () => {
    const storage = memory();
    const list = [
      { name: 'default', model: { id: 'resnet50', dimension: 2048 }, images: 3, default: true },
      { name: 'tiny-ones', model: null, images: 0, default: false }
    ];
    saveCollectionList(list, storage);
    expect(savedCollectionList(storage)).toEqual(list);
    storage.setItem('lookalike.collections', JSON.stringify([{ name: 1 }, ...list, 'x']));
    expect(savedCollectionList(storage)).toEqual(list);
    storage.setItem('lookalike.collections', '{not json');
    expect(savedCollectionList(storage)).toEqual([]);
  });
});
