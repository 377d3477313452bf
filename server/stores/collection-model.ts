import { CollectionMismatchError } from '../errors';

/** Which model built a collection: stored by every catalog on the collection's row. */
export interface CollectionModel {
  modelId: string;
  dimension: number;
}

/** The model recorded on a collection row (`model_id` and `dimension`), if any. */
export function modelFromRow(row: {
  modelId: string | null;
  dimension: number | null;
}): CollectionModel | undefined {
  return row.modelId ? { modelId: row.modelId, dimension: Number(row.dimension) } : undefined;
}

/** Vectors of another model (or size) are garbage to this one: refuse instead of mixing them. */
export function assertSameModel(
  existing: CollectionModel | undefined,
  active: CollectionModel
): void {
  if (!existing || (existing.modelId === active.modelId && existing.dimension === active.dimension))
    return;
  throw new CollectionMismatchError(
    `This collection was built by model "${existing.modelId}" (${existing.dimension}-d), but the ` +
      `active model is "${active.modelId}" (${active.dimension}-d). Start with --model ` +
      `${existing.modelId}, use another data directory or database, or clear the collection ` +
      `(lookalike drop) and re-index.`
  );
}
