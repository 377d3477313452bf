import {
  ConsistencyLevelEnum,
  DataType,
  ErrorCode,
  MilvusClient,
  promisify,
  type ResStatus
} from '@zilliz/milvus2-sdk-node';
import { StoreUnavailableError } from '../../errors';
import type { VectorEntry, VectorIndex, VectorMatch } from '../vector-index';

export type MilvusIndexType = 'HNSW' | 'IVF_FLAT' | 'IVF_SQ8' | 'FLAT';
export type MilvusMetric = 'IP' | 'COSINE';

export interface MilvusIndexOptions {
  /** `host:port` or a URL (`http://…`, `https://…`). */
  address: string;
  token?: string;
  username?: string;
  password?: string;
  ssl?: boolean;
  database?: string;
  collection: string;
  dimension: number;
  /** Used when this creates the collection; an existing one keeps its index. Default HNSW. */
  indexType?: MilvusIndexType;
  /**
   * Default COSINE: Milvus ≥ 2.3 and Milvus Lite both have it, and its scores are the cosine
   * similarity even for a vector that is not exactly unit length (IP gives the same ranking and
   * scores on unit vectors).
   */
  metric?: MilvusMetric;
  /** How long connecting (and each health check) may take. Default 10 s. */
  connectTimeoutMs?: number;
  /** Deadline of one data request (insert, search, load, flush…). Default 120 s. */
  requestTimeoutMs?: number;
}

/**
 * The Milvus collection of a named Lookalike collection: `prefix` + the name with `_` → `_5f` and
 * `-` → `_2d`. Milvus names allow only letters, digits and `_`; escaping `_` itself keeps the
 * mapping one-to-one (`a_2d` and `a-` stay apart), so two names never share vectors.
 */
export function milvusCollectionName(prefix: string, name: string): string {
  return prefix + name.replace(/_/g, '_5f').replace(/-/g, '_2d');
}

/** Primary key and vector field names (the catalog id is the primary key, not auto-generated). */
const ID = 'id';
const VECTOR = 'vector';
/** Rows per insert/upsert request: 500 × 2048 floats ≈ 4 MB, well under gRPC's limits. */
const WRITE_CHUNK = 500;
/** Ids per `id in [...]` delete expression. */
const DELETE_CHUNK = 1000;
/** Milvus caps topk and query limit at 16384. */
const MAX_TOPK = 16_384;
/**
 * How long after this process's own last write a search still asks for Strong consistency. Milvus
 * answers a Bounded search from data at most `common.gracefulTime` (5 s by default) old, and a
 * Strong one only once every write before it is visible, which costs a time tick (measured on
 * Milvus 2.3.5: p50 246 ms Strong vs 6.4 ms Bounded at 100k, bench `search-milvus`). Twice the
 * default leaves room for a slow server; writes of other servers are seen within the bound.
 */
export const READ_YOUR_WRITES_MS = 10_000;

/** Strong while this process's own writes may not be visible to a Bounded search yet. */
export function searchConsistency(
  lastWriteAt: number | undefined,
  now: number
): ConsistencyLevelEnum {
  return lastWriteAt !== undefined && now - lastWriteAt < READ_YOUR_WRITES_MS
    ? ConsistencyLevelEnum.Strong
    : ConsistencyLevelEnum.Bounded;
}
const INDEX_PARAMS: Record<MilvusIndexType, Record<string, number>> = {
  HNSW: { M: 16, efConstruction: 128 },
  IVF_FLAT: { nlist: 1024 },
  IVF_SQ8: { nlist: 1024 },
  FLAT: {}
};
/** gRPC status codes that mean "the server did not answer": UNAVAILABLE, DEADLINE_EXCEEDED. */
const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;
/** Milvus status code for a search or query on a collection that is not loaded. */
const COLLECTION_NOT_LOADED = 101;

/** Milvus answered, with a failure status. */
export class MilvusRequestError extends Error {
  override name = 'MilvusRequestError';
  constructor(
    readonly operation: string,
    readonly status: Partial<ResStatus>
  ) {
    super(
      `Milvus ${operation} failed: ${status.reason || String(status.error_code)} ` +
        `(code ${status.code ?? status.error_code})`
    );
  }
}

/**
 * Vectors in a Milvus collection: INT64 primary key `id` (the catalog id) and FLOAT_VECTOR
 * `vector`. Loads the collection when it opens, and again whenever Milvus says it is not loaded
 * (after a Milvus restart a collection starts released, and searches fail until someone loads
 * it); reconnects when the connection failed. Either way the failed call is retried once.
 */
export class MilvusVectorIndex implements VectorIndex {
  readonly kind = 'milvus';
  #client: MilvusClient;
  #closed = false;
  /** One reconnect or load at a time, shared by every call that needs it. */
  #recovering: Promise<void> | undefined;
  /** A reconnect failed: reconnect before the next call. */
  #stale = false;
  /** Cleared when the server has no Upsert (Milvus < 2.3): then delete-then-insert. */
  #upsertSupported = true;
  /** When this process last changed the collection (ms), for searchConsistency. */
  #lastWriteAt: number | undefined;
  readonly #indexType: MilvusIndexType;
  readonly #opts: Opened;

  private constructor(client: MilvusClient, opts: Opened, indexType: MilvusIndexType) {
    this.#client = client;
    this.#opts = opts;
    this.#indexType = indexType;
  }

  get dimension(): number {
    return this.#opts.dimension;
  }

  get collection(): string {
    return this.#opts.collection;
  }

  get address(): string {
    return this.#opts.address;
  }

  /** The index type of the collection's vector field (an existing collection keeps its own). */
  get indexType(): MilvusIndexType {
    return this.#indexType;
  }

  /**
   * Connects, creates the collection and its index if missing, and loads it. Fails at once
   * with `Milvus at <address> is unreachable: …` when nothing answers, and with a message naming
   * both dimensions when the collection holds vectors of another size.
   */
  static async open(options: MilvusIndexOptions): Promise<MilvusVectorIndex> {
    const opts: Opened = {
      ...options,
      metric: options.metric ?? 'COSINE',
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 120_000
    };
    if (!Number.isInteger(opts.dimension) || opts.dimension <= 0)
      throw new Error(`Vector dimension must be a positive integer, got ${opts.dimension}`);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(opts.collection))
      throw new Error(
        `Milvus collection name "${opts.collection}" is invalid: use letters, digits and _`
      );
    const client = await connect(opts);
    try {
      const indexType = await prepareCollection(client, opts);
      return new MilvusVectorIndex(client, opts, indexType);
    } catch (error) {
      await closeQuietly(client);
      if (isConnectionError(error)) throw unreachable(opts.address, error);
      throw notReady(opts.address, error) ?? error;
    }
  }

  /**
   * Drops a collection (a deleted Lookalike collection's vectors) whether or not it exists or is
   * open anywhere; its data is gone for good.
   */
  static async drop(options: Omit<MilvusIndexOptions, 'dimension'>): Promise<void> {
    const opts: Opened = {
      ...options,
      dimension: 0,
      metric: options.metric ?? 'COSINE',
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 120_000
    };
    const client = await connect(opts);
    try {
      const target = targetOf(opts);
      const timeout = opts.requestTimeoutMs;
      const has = await client.hasCollection({ ...target, timeout });
      check('hasCollection', has.status);
      if (has.value) check('drop', await client.dropCollection({ ...target, timeout }));
    } finally {
      await closeQuietly(client);
    }
  }

  async upsert(entries: readonly VectorEntry[]): Promise<void> {
    this.#live();
    // Last write wins within a batch (Milvus refuses a primary key twice in one request).
    const latest = new Map<number, number[]>();
    for (const { id, vector } of entries) {
      checkId(id);
      if (vector.length !== this.dimension)
        throw new Error(`Vector ${id} has ${vector.length} dimensions, expected ${this.dimension}`);
      latest.set(id, Array.from(vector));
    }
    const rows = [...latest].map(([id, vector]) => ({ [ID]: id, [VECTOR]: vector }));
    this.#wrote();
    for (let start = 0; start < rows.length; start += WRITE_CHUNK) {
      const chunk = rows.slice(start, start + WRITE_CHUNK);
      await this.#call(async (client) => {
        if (this.#upsertSupported) {
          const res = await client.upsert({
            ...this.#target(),
            data: chunk,
            timeout: this.#timeout
          });
          // The SDK turns UNIMPLEMENTED into an empty answer: a Milvus without Upsert.
          if (res.status !== undefined) return check('upsert', res.status);
          this.#upsertSupported = false;
        }
        await this.#deleteIds(
          client,
          chunk.map((row) => row[ID] as number)
        );
        const res = await client.insert({ ...this.#target(), data: chunk, timeout: this.#timeout });
        check('insert', res.status);
      });
    }
    this.#wrote();
  }

  async remove(ids: readonly number[]): Promise<void> {
    this.#live();
    const valid = [...new Set(ids.filter((id) => Number.isSafeInteger(id) && id >= 0))];
    if (valid.length > 0) this.#wrote();
    for (let start = 0; start < valid.length; start += DELETE_CHUNK) {
      const chunk = valid.slice(start, start + DELETE_CHUNK);
      await this.#call((client) => this.#deleteIds(client, chunk));
    }
    if (valid.length > 0) this.#wrote();
  }

  /** A write is on its way: searches wait for it (Strong) for a while after it ends. */
  #wrote(): void {
    this.#lastWriteAt = Date.now();
  }

  async search(query: Float32Array, k: number): Promise<VectorMatch[]> {
    this.#live();
    if (query.length !== this.dimension)
      throw new Error(`Query has ${query.length} dimensions, expected ${this.dimension}`);
    const limit = Math.min(Math.floor(k), MAX_TOPK);
    if (!(limit > 0)) return [];
    const vector = Array.from(query);
    const results = await this.#call(async (client) => {
      const res = await client.search({
        ...this.#target(),
        anns_field: VECTOR,
        data: vector,
        limit,
        params: this.#searchParams(limit),
        output_fields: [ID],
        consistency_level: searchConsistency(this.#lastWriteAt, Date.now()),
        timeout: this.#timeout
      });
      check('search', res.status);
      return res.results;
    });
    return results
      .map((r) => ({ id: Number(r.id), score: Number(r.score) }))
      .sort((a, b) => b.score - a.score);
  }

  async count(): Promise<number> {
    this.#live();
    return this.#call(async (client) => {
      const res = await client.query({
        ...this.#target(),
        filter: '',
        output_fields: ['count(*)'],
        consistency_level: ConsistencyLevelEnum.Strong,
        timeout: this.#timeout
      });
      check('count', res.status);
      return Number(res.data[0]?.['count(*)'] ?? 0);
    });
  }

  /**
   * Up to `limit` ids greater than `afterId`, ascending: page through every vector with
   * `listIds(last, n)` (the reconciliation pass uses it to find vectors without catalog rows).
   */
  async listIds(afterId: number, limit: number): Promise<number[]> {
    this.#live();
    if (!Number.isSafeInteger(afterId))
      throw new Error(`afterId must be an integer, got ${afterId}`);
    const wanted = Math.min(Math.floor(limit), MAX_TOPK);
    if (!(wanted > 0)) return [];
    return this.#call(async (client) => {
      // Raw Query: the SDK's query() cannot send `iterator`, which asks for results in primary
      // key order (Milvus orders limited queries by key anyway; Milvus Lite only when asked).
      const res = (await promisify(
        client.channelPool,
        'Query',
        {
          ...this.#target(),
          expr: `${ID} > ${afterId}`,
          output_fields: [ID],
          query_params: [
            { key: 'limit', value: String(wanted) },
            { key: 'iterator', value: 'True' }
          ],
          consistency_level: ConsistencyLevelEnum.Strong
        },
        this.#timeout
      )) as {
        status: ResStatus;
        fields_data?: { field_name: string; scalars?: { long_data?: { data?: string[] } } }[];
      };
      check('query', res.status);
      const field = res.fields_data?.find((f) => f.field_name === ID);
      const ids = (field?.scalars?.long_data?.data ?? []).map(Number);
      return ids.sort((a, b) => a - b).slice(0, wanted);
    });
  }

  /** Drops the collection and creates it again, empty, indexed and loaded. */
  async clear(): Promise<void> {
    this.#live();
    await this.#call(async (client) => {
      check('drop', await client.dropCollection({ ...this.#target(), timeout: this.#timeout }));
    });
    await this.#call((client) => prepareCollection(client, this.#opts));
    this.#wrote();
  }

  /** Seals what was written (Milvus flush), e.g. at the end of an index job. */
  async flush(): Promise<void> {
    this.#live();
    await this.#call(async (client) => {
      const res = await client.flushSync({
        collection_names: [this.collection],
        ...(this.#opts.database ? { db_name: this.#opts.database } : {}),
        timeout: this.#timeout
      });
      check('flush', res.status);
    });
  }

  /**
   * True when Milvus answers a health check in time (reconnecting if the connection was lost);
   * never throws.
   */
  async ping(): Promise<boolean> {
    if (this.#closed) return false;
    try {
      if (!this.#stale) {
        const res = await withDeadline(
          this.#client.checkHealth(),
          this.#opts.connectTimeoutMs,
          'health check'
        );
        return res.isHealthy !== false && !failed(statusOf(res));
      }
    } catch {
      // lost: try a fresh connection below
    }
    try {
      await this.#reconnect();
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#recovering?.catch(() => undefined);
    await closeQuietly(this.#client);
  }

  get #timeout(): number {
    return this.#opts.requestTimeoutMs;
  }

  #target(): { collection_name: string; db_name?: string } {
    return targetOf(this.#opts);
  }

  #searchParams(limit: number): Record<string, number> {
    switch (this.#indexType) {
      case 'HNSW':
        return { ef: Math.max(128, limit) };
      case 'IVF_FLAT':
      case 'IVF_SQ8':
        return { nprobe: 16 };
      default:
        return {};
    }
  }

  async #deleteIds(client: MilvusClient, ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    const res = await client.delete({
      ...this.#target(),
      filter: `${ID} in [${ids.join(',')}]`,
      timeout: this.#timeout
    });
    check('delete', res.status);
  }

  #live(): void {
    if (this.#closed) throw new Error('The vector index is closed');
  }

  /**
   * Runs `operation`; when Milvus says the collection is not loaded, loads it, and when the
   * connection failed, reconnects (and loads: a restarted Milvus starts with it released), then
   * runs it once more. A connection that cannot be made again is "Milvus at … is unreachable".
   */
  async #call<T>(operation: (client: MilvusClient) => Promise<T>): Promise<T> {
    // The last reconnect failed: the old client's connections may still be backing off.
    if (this.#stale) await this.#recover('reconnect');
    try {
      return await operation(this.#client);
    } catch (error) {
      if (this.#closed) throw error;
      const lost = isConnectionError(error);
      if (!lost && !isNotLoaded(error)) throw notReady(this.address, error) ?? error;
      await this.#recover(lost ? 'reconnect' : 'load').catch((failure: unknown) => {
        throw notReady(this.address, failure) ?? failure;
      });
      try {
        return await operation(this.#client);
      } catch (again) {
        if (isConnectionError(again)) throw unreachable(this.address, again);
        throw notReady(this.address, again) ?? again;
      }
    }
  }

  #recover(how: 'reconnect' | 'load'): Promise<void> {
    this.#recovering ??= (async () => {
      if (how === 'reconnect') await this.#reconnect();
      try {
        await loadCollection(this.#client, this.#opts);
      } catch (error) {
        if (!isConnectionError(error)) throw error;
        await this.#reconnect();
        await loadCollection(this.#client, this.#opts).catch((again: unknown) => {
          throw isConnectionError(again) ? unreachable(this.address, again) : again;
        });
      }
    })().finally(() => {
      this.#recovering = undefined;
    });
    return this.#recovering;
  }

  /** Replaces the client with a freshly connected one (its connections are not backing off). */
  async #reconnect(): Promise<void> {
    let fresh: MilvusClient;
    try {
      fresh = await connect(this.#opts);
    } catch (error) {
      this.#stale = true;
      throw error; // "Milvus at … is unreachable: …"
    }
    const old = this.#client;
    this.#client = fresh;
    this.#stale = false;
    if (this.#closed) void closeQuietly(fresh);
    void closeQuietly(old);
  }
}

type Opened = MilvusIndexOptions & {
  metric: MilvusMetric;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
};

/** A connected client, or `Milvus at <address> is unreachable: …` within connectTimeoutMs. */
async function connect(opts: Opened): Promise<MilvusClient> {
  let client: MilvusClient;
  try {
    client = new MilvusClient({
      address: opts.address,
      ...(opts.token ? { token: opts.token } : {}),
      ...(opts.username ? { username: opts.username, password: opts.password ?? '' } : {}),
      ssl: opts.ssl ?? /^https:/i.test(opts.address),
      ...(opts.database ? { database: opts.database } : {}),
      // The SDK's `timeout` is the deadline of its Connect call and of calls given none; every
      // data call here passes its own (requestTimeoutMs).
      timeout: opts.connectTimeoutMs,
      logLevel: 'error',
      // Connections of its own: after a refusal, gRPC's process-wide shared connection backs
      // off for seconds, and a reconnect must not inherit that.
      channelOptions: {
        'grpc.use_local_subchannel_pool': 1,
        // And they retry a lost connection within seconds, not gRPC's default of up to 2 min.
        'grpc.max_reconnect_backoff_ms': 5000
      }
    });
  } catch (error) {
    throw unreachable(opts.address, error);
  }
  try {
    await withDeadline(client.connectPromise, opts.connectTimeoutMs + 1000, 'connect');
    const health = await withDeadline(client.checkHealth(), opts.connectTimeoutMs, 'health check');
    check('health check', statusOf(health));
    return client;
  } catch (error) {
    void closeQuietly(client);
    if (error instanceof MilvusRequestError && /auth|credential|permission/i.test(error.message))
      throw new Error(`Milvus at ${opts.address} refused the credentials: ${error.message}`, {
        cause: error
      });
    throw unreachable(opts.address, error);
  }
}

/**
 * Creates the collection and its index when missing, checks an existing one, loads it, and
 * returns its index type.
 */
async function prepareCollection(client: MilvusClient, opts: Opened): Promise<MilvusIndexType> {
  const target = targetOf(opts);
  const timeout = opts.requestTimeoutMs;
  const has = await client.hasCollection({ ...target, timeout });
  check('hasCollection', has.status);
  if (!has.value) {
    const created = await client.createCollection({
      ...target,
      description: `Lookalike image vectors (${opts.dimension} dimensions)`,
      consistency_level: 'Strong',
      fields: [
        { name: ID, data_type: DataType.Int64, is_primary_key: true, autoID: false },
        { name: VECTOR, data_type: DataType.FloatVector, dim: opts.dimension }
      ],
      timeout
    });
    // Another process may have created it meanwhile: then check it like any existing one.
    if (failed(created)) {
      const now = await client.hasCollection({ ...target, timeout });
      if (!now.value) check('createCollection', created);
    }
  }
  await checkSchema(client, opts);
  const indexType = await ensureIndex(client, opts);
  await loadCollection(client, opts);
  return indexType;
}

async function checkSchema(client: MilvusClient, opts: Opened): Promise<void> {
  const desc = await client.describeCollection({
    ...targetOf(opts),
    timeout: opts.requestTimeoutMs
  });
  check('describeCollection', desc.status);
  const fields = desc.schema?.fields ?? [];
  const id = fields.find((f) => f.name === ID);
  const vector = fields.find((f) => f.name === VECTOR);
  const where = `Milvus collection "${opts.collection}" at ${opts.address}`;
  if (
    !id?.is_primary_key ||
    id.data_type !== 'Int64' ||
    id.autoID ||
    vector?.data_type !== 'FloatVector'
  )
    throw new Error(
      `${where} was not made by Lookalike: it needs an INT64 primary key "${ID}" (autoID off) and ` +
        `a FLOAT_VECTOR field "${VECTOR}", but has ${fields.map((f) => `${f.name}: ${f.data_type}`).join(', ')}. ` +
        'Choose another collection (MILVUS_COLLECTION) or drop this one.'
    );
  const dim = Number(vector.dim ?? vector.type_params?.find((p) => p.key === 'dim')?.value);
  if (dim !== opts.dimension)
    throw new Error(
      `${where} holds vectors of dimension ${dim}, but this model needs dimension ${opts.dimension}: ` +
        'drop the collection (lookalike drop) or choose another one (MILVUS_COLLECTION).'
    );
}

/** The vector field's index type, building the index first when there is none. */
async function ensureIndex(client: MilvusClient, opts: Opened): Promise<MilvusIndexType> {
  const target = targetOf(opts);
  const timeout = opts.requestTimeoutMs;
  const described = await client.describeIndex({ ...target, field_name: VECTOR, timeout });
  const existing = failed(described.status) ? undefined : described.index_descriptions?.[0];
  if (existing) {
    const param = (key: string) => existing.params?.find((p) => p.key === key)?.value;
    const metric = String(param('metric_type') ?? '').toUpperCase();
    if (metric && metric !== 'IP' && metric !== 'COSINE')
      throw new Error(
        `Milvus collection "${opts.collection}" is indexed with metric ${metric}; Lookalike needs ` +
          'IP or COSINE (scores are cosine similarities). Drop it or choose another collection.'
      );
    const type = String(param('index_type') ?? '').toUpperCase();
    return type in INDEX_PARAMS ? (type as MilvusIndexType) : 'FLAT';
  }
  const indexType = opts.indexType ?? 'HNSW';
  const res = await client.createIndex({
    ...target,
    field_name: VECTOR,
    index_name: `${VECTOR}_idx`,
    index_type: indexType,
    metric_type: opts.metric,
    params: INDEX_PARAMS[indexType],
    timeout
  });
  check('createIndex', res);
  return indexType;
}

/** Loads the collection unless Milvus says it already is. */
async function loadCollection(client: MilvusClient, opts: Opened): Promise<void> {
  const target = targetOf(opts);
  const timeout = opts.requestTimeoutMs;
  const state = await client.getLoadState({ ...target, timeout });
  if (!failed(state.status) && String(state.state) === 'LoadStateLoaded') return;
  // Waits until loading reaches 100%.
  check('loadCollection', await client.loadCollection({ ...target, timeout }));
}

function targetOf(opts: Opened): { collection_name: string; db_name?: string } {
  return opts.database
    ? { collection_name: opts.collection, db_name: opts.database }
    : { collection_name: opts.collection };
}

function checkId(id: number): void {
  if (!Number.isSafeInteger(id) || id < 0)
    throw new Error(`Vector id must be a non-negative integer, got ${id}`);
}

function failed(status: Partial<ResStatus> | undefined): boolean {
  if (!status) return false;
  const code = status.code ?? 0;
  const errorCode = status.error_code ?? ErrorCode.SUCCESS;
  return code !== 0 || (errorCode !== ErrorCode.SUCCESS && errorCode !== 0);
}

/** CheckHealthResponse has a status on the wire that the SDK's type leaves out. */
function statusOf(response: object): Partial<ResStatus> | undefined {
  return (response as { status?: Partial<ResStatus> }).status;
}

function check(operation: string, status: Partial<ResStatus> | undefined): void {
  if (failed(status)) throw new MilvusRequestError(operation, status!);
}

function isNotLoaded(error: unknown): boolean {
  if (!(error instanceof MilvusRequestError)) return false;
  const { code, error_code, reason } = error.status;
  return (
    code === COLLECTION_NOT_LOADED ||
    error_code === COLLECTION_NOT_LOADED ||
    error_code === 'CollectionNotLoaded' ||
    /not loaded|not_loaded|released|load\(\) before/i.test(reason ?? '')
  );
}

function isConnectionError(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code === GRPC_UNAVAILABLE || code === GRPC_DEADLINE_EXCEEDED) return true;
  return (
    typeof message === 'string' &&
    /ECONNREFUSED|ECONNRESET|EPIPE|No connection established|UNAVAILABLE/.test(message)
  );
}

/**
 * The one translation of "Milvus does not answer" into the app's error: StoreUnavailableError, a
 * 503 `store_unavailable` over HTTP and one line in the CLI, as for MySQL; jobs wait for it.
 */
function unreachable(address: string, cause: unknown): StoreUnavailableError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new StoreUnavailableError(`Milvus at ${address} is unreachable: ${why}`, { cause });
}

/**
 * Milvus standalone answers while it is still starting or already stopping, with statuses such
 * as "find no available rootcoord" or "not ready": worth waiting for, like an unreachable one.
 */
function notReady(address: string, error: unknown): StoreUnavailableError | undefined {
  if (!(error instanceof MilvusRequestError)) return undefined;
  const reason = error.status.reason ?? '';
  if (!/no available|not ready|not serving|not healthy|unhealthy|stopping|abnormal/i.test(reason))
    return undefined;
  return new StoreUnavailableError(
    `Milvus at ${address} is unavailable (starting or stopping): ${reason}`,
    { cause: error }
  );
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

async function closeQuietly(client: MilvusClient): Promise<void> {
  try {
    await client.closeConnection();
  } catch {
    // closing a client whose server is gone may fail: nothing left to release
  }
}
