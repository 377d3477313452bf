import { CollectionMismatchError } from '../errors';

/** Which model built a collection: stored by every catalog as `model_id` and `dimension` facts. */
export interface CollectionModel {
  modelId: string;
  dimension: number;
}

export function modelFromFacts(
  rows: readonly { key: string; value: string }[]
): CollectionModel | undefined {
  const facts = new Map(rows.map((r) => [r.key, r.value]));
  const modelId = facts.get('model_id');
  return modelId ? { modelId, dimension: Number(facts.get('dimension')) } : undefined;
}

export function modelFacts(model: CollectionModel): { key: string; value: string }[] {
  return [
    { key: 'model_id', value: model.modelId },
    { key: 'dimension', value: String(model.dimension) }
  ];
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
