import { z } from '@hono/zod-openapi';
import type { Runtime } from '../runtime';
import type { OpenCollection } from '../services/collections';
import { OfflineSnapshots } from '../services/snapshot';
import { Uploads, uploadsDir } from '../services/uploads';
import { CollectionNotFoundError } from '../stores/catalog';
import { collectionNameSchema, DEFAULT_COLLECTION } from '../stores/collection-names';

/**
 * The optional `collection` query every collection-scoped endpoint takes: absent means the
 * default collection, so every request of before keeps its meaning.
 */
export const CollectionQuerySchema = z.object({
  collection: collectionNameSchema.optional().meta({
    description: `The collection (case-sensitive); \`${DEFAULT_COLLECTION}\` when left out`,
    example: 'wallpapers'
  })
});

/** An open collection plus what the HTTP layer keeps per collection. */
export interface CollectionScope extends OpenCollection {
  uploads: Uploads;
  snapshots: OfflineSnapshots;
  /** `?collection=<name>` for the URLs routes build into answers; empty for the default one. */
  urlQuery: string;
}

/** One per open collection (kept as long as it is open): uploads and snapshots share state. */
const scopes = new WeakMap<OpenCollection, CollectionScope>();

function scopeOf(
  runtime: Pick<Runtime, 'config' | 'decoder'>,
  open: OpenCollection
): CollectionScope {
  let scope = scopes.get(open);
  if (!scope) {
    scope = {
      ...open,
      uploads: new Uploads({
        dir: uploadsDir(runtime.config.dataDir),
        collection: open.collection,
        decoder: runtime.decoder,
        embedder: open.embedder
      }),
      snapshots: new OfflineSnapshots(open.collection),
      urlQuery:
        open.name === DEFAULT_COLLECTION ? '' : `?collection=${encodeURIComponent(open.name)}`
    };
    scopes.set(open, scope);
  }
  return scope;
}

/** The default collection's scope, for what is set up once per app (the bootcamp uploads). */
export function defaultScope(runtime: Pick<Runtime, 'collections' | 'config' | 'decoder'>) {
  return scopeOf(runtime, runtime.collections.defaultCollection);
}

/**
 * The collection a request names (the default one when it names none); 404
 * `collection_not_found` when there is none of that name. `create` makes it first (with the
 * server's model): only requests that add pictures to a collection ask for that.
 */
export async function collectionScope(
  runtime: Pick<Runtime, 'collections' | 'config' | 'decoder'>,
  name: string = DEFAULT_COLLECTION,
  { create = false }: { create?: boolean } = {}
): Promise<CollectionScope> {
  const open = create
    ? await runtime.collections.getOrCreate(name)
    : await runtime.collections.get(name);
  if (!open) throw new CollectionNotFoundError(name);
  return scopeOf(runtime, open);
}
