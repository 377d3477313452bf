import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CollectionMismatchError } from '../../server/errors';
import { assertCollectionModel } from '../../server/services/collection';
import { SqliteCatalog } from '../../server/stores/sqlite/sqlite-catalog';

describe('assertCollectionModel', () => {
  let dir: string;
  let catalog: SqliteCatalog;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lookalike-collection-'));
    catalog = await SqliteCatalog.open(join(dir, 'catalog.db'));
  });
  afterEach(async () => {
    await catalog.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('says a claim left by an interrupted first write can be dropped at no loss', async () => {
    const active = { id: 'tiny', dimension: 2 };
    await expect(assertCollectionModel(catalog, active)).resolves.toBeUndefined();
    // A crash between the claim and the first insert: the model is recorded, no picture is.
    await catalog.claimCollection({ modelId: 'other', dimension: 3 });
    const empty = assertCollectionModel(catalog, active);
    await expect(empty).rejects.toBeInstanceOf(CollectionMismatchError);
    await expect(empty).rejects.toThrow(/is empty.*"other".*nothing is lost/s);

    await catalog.addImages([
      {
        contentHash: 'f'.repeat(64),
        width: 1,
        height: 1,
        bytes: 1,
        format: 'jpeg',
        dhash: '0'.repeat(16),
        vector: new Float32Array([1, 0, 0]),
        file: { path: join(dir, 'a.jpg'), size: 1, mtimeMs: 0 }
      }
    ]);
    await expect(assertCollectionModel(catalog, active)).rejects.toThrow(
      /was built by model "other"/
    );
    await expect(
      assertCollectionModel(catalog, { id: 'other', dimension: 3 })
    ).resolves.toBeUndefined();
  });
});
