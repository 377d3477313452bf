import type { SearchHit, SearchSource } from '$lib/api/types';
import type { Rect } from '$lib/components/search/crop';
import type { EncoderBackend } from '$lib/encoder';
import type { SearchOutcome } from './search-service';
import type { ServerEncodeReason } from './server-encode';

export const DEFAULT_TOP_K = 10;

/** What encoding returned, as much of it as the page shows. */
export interface EncodedQuery {
  vector: Float32Array;
  backend: EncoderBackend;
  /** WebAssembly threads, to name the backend fully. */
  threads?: number;
  ms: number;
}

export interface SearchDeps {
  encode(blob: Blob, region: Rect | undefined): Promise<EncodedQuery>;
  search(vector: Float32Array, topK: number): Promise<SearchOutcome>;
  /**
   * Whether a picture the browser failed to encode goes to the server's encoder instead
   * (`server-encode.ts`), and why; undefined keeps the failure.
   */
  fallback(error: unknown, blob: Blob): Promise<ServerEncodeReason | undefined>;
  /** Searches with the picture itself, encoded by the server. */
  searchImage(blob: Blob, topK: number, reason: ServerEncodeReason): Promise<SearchOutcome>;
  /** Turns an encode or search failure into a sentence for the page. */
  describe(error: unknown): string;
  /**
   * SHA-256 of the query's bytes (hex), to tell the result that is the very file searched with;
   * undefined when the browser cannot tell. Default: Web Crypto (secure contexts only).
   */
  hash?: (blob: Blob) => Promise<string | undefined>;
}

/** A result as the session shows it: the search's hit, marked when it is the query's own file. */
export type ResultHit = SearchHit & {
  /** Same bytes as the picture searched with (its SHA-256 is the hit's `contentHash`). */
  isQuery?: boolean;
};

/** Whether this page can hash a file: Web Crypto exists only in secure contexts (HTTPS, localhost). */
export const canHashFiles = () => typeof globalThis.crypto?.subtle?.digest === 'function';

/** SHA-256 (hex) by Web Crypto; undefined where the page cannot hash (see canHashFiles). */
export async function sha256OfBlob(blob: Blob): Promise<string | undefined> {
  if (!canHashFiles()) return undefined;
  const subtle = globalThis.crypto.subtle;
  const digest = new Uint8Array(await subtle.digest('SHA-256', await blob.arrayBuffer()));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

export type SearchPhase = 'empty' | 'encoding' | 'searching' | 'done' | 'failed';

export interface QueryPicture {
  blob: Blob;
  /** Object URL for the preview; revoked when the query changes. */
  url: string;
  name: string;
}

/**
 * One search session: the query picture (and its crop), its vector, top-K and the results.
 * Encoding happens once per picture + crop; changing top-K re-searches with the same vector.
 */
export class SearchSession {
  query = $state.raw<QueryPicture | undefined>(undefined);
  region = $state.raw<Rect | undefined>(undefined);
  topK = $state(DEFAULT_TOP_K);
  phase = $state<SearchPhase>('empty');
  hits = $state.raw<ResultHit[]>([]);
  source = $state.raw<SearchSource | undefined>(undefined);
  encoded = $state.raw<Omit<EncodedQuery, 'vector'> | undefined>(undefined);
  searchMs = $state<number | undefined>(undefined);
  error = $state<string | undefined>(undefined);
  /**
   * Set when the browser could not encode this picture and the server does (its note says why):
   * then there is no vector here, every search sends the picture, and there is no crop.
   */
  serverEncode = $state.raw<ServerEncodeReason | undefined>(undefined);

  #vector: Float32Array | undefined;
  /** The query's SHA-256, hashed alongside encoding; undefined when it cannot be known. */
  #queryHash: Promise<string | undefined> = Promise.resolve(undefined);
  /** The encode under way: asked again for the same picture and crop, it is reused, not repeated. */
  #inflight: { blob: Blob; region: Rect | undefined; result: Promise<EncodedQuery> } | undefined;
  /** Bumped per run: an answer for an older query or top-K is dropped. */
  #run = 0;

  readonly #deps: SearchDeps;

  constructor(deps: SearchDeps) {
    this.#deps = deps;
  }

  get busy(): boolean {
    return this.phase === 'encoding' || this.phase === 'searching';
  }

  /** A new picture: forget the old vector and crop, then encode and search. */
  setQuery(blob: Blob, name: string): Promise<void> {
    if (this.query) URL.revokeObjectURL(this.query.url);
    this.query = { blob, url: URL.createObjectURL(blob), name };
    this.#queryHash = (this.#deps.hash ?? sha256OfBlob)(blob).catch(() => undefined);
    this.region = undefined;
    this.#vector = undefined;
    this.serverEncode = undefined;
    return this.encodeAndSearch();
  }

  /** A new crop (or none): encode the region and search. */
  setRegion(region: Rect | undefined): Promise<void> {
    // The server encodes the whole picture: a crop would be silently ignored (the page hides it).
    if (this.serverEncode) return Promise.resolve();
    this.region = region;
    this.#vector = undefined;
    return this.encodeAndSearch();
  }

  /** Re-searches with the vector already encoded; encodes only if there is none yet. */
  setTopK(topK: number): Promise<void> {
    this.topK = topK;
    if (!this.query) return Promise.resolve();
    if (this.serverEncode) return this.#searchOnServer(this.serverEncode, ++this.#run);
    return this.#vector ? this.searchWith(this.#vector, ++this.#run) : this.encodeAndSearch();
  }

  /** The collection changed (indexed, cleared): the same vector, fresh results. */
  refresh(): Promise<void> {
    if (this.query && this.serverEncode) {
      return this.#searchOnServer(this.serverEncode, ++this.#run);
    }
    return this.#vector ? this.searchWith(this.#vector, ++this.#run) : Promise.resolve();
  }

  /**
   * Another collection with another model: the vector means nothing there, and the results shown
   * are the other collection's. Both go; the picture is encoded again (once that model is ready).
   */
  reencode(): Promise<void> {
    this.#vector = undefined;
    this.hits = [];
    this.source = undefined;
    // The server encodes with the new collection's model itself.
    if (this.query && this.serverEncode) {
      return this.#searchOnServer(this.serverEncode, ++this.#run);
    }
    return this.encodeAndSearch();
  }

  async encodeAndSearch(): Promise<void> {
    const query = this.query;
    if (!query) return;
    const run = ++this.#run;
    this.phase = 'encoding';
    this.error = undefined;
    this.serverEncode = undefined;
    try {
      const { vector, ...encoded } = await this.#encode(query.blob, this.region);
      if (run !== this.#run) return;
      this.#vector = vector;
      this.encoded = encoded;
    } catch (error) {
      if (run !== this.#run) return;
      // A crop cannot be sent: only a whole picture goes to the server's encoder.
      const reason = this.region
        ? undefined
        : await this.#deps.fallback(error, query.blob).catch(() => undefined);
      if (run !== this.#run) return;
      if (!reason) {
        this.fail(error);
        return;
      }
      this.serverEncode = reason;
      this.encoded = undefined;
      await this.#searchOnServer(reason, run);
      return;
    }
    await this.searchWith(this.#vector, run);
  }

  #encode(blob: Blob, region: Rect | undefined): Promise<EncodedQuery> {
    const inflight = this.#inflight;
    if (inflight && inflight.blob === blob && sameRegion(inflight.region, region)) {
      return inflight.result;
    }
    const entry = { blob, region, result: this.#deps.encode(blob, region) };
    this.#inflight = entry;
    const done = () => {
      if (this.#inflight === entry) this.#inflight = undefined;
    };
    entry.result.then(done, done);
    return entry.result;
  }

  private searchWith(vector: Float32Array, run: number): Promise<void> {
    return this.#show(run, () => this.#deps.search(vector, this.topK));
  }

  #searchOnServer(reason: ServerEncodeReason, run: number): Promise<void> {
    const query = this.query;
    if (!query) return Promise.resolve();
    return this.#show(run, () => this.#deps.searchImage(query.blob, this.topK, reason));
  }

  /** Runs one search and shows its results, unless a newer run has started meanwhile. */
  async #show(run: number, search: () => Promise<SearchOutcome>): Promise<void> {
    this.phase = 'searching';
    this.error = undefined;
    try {
      const outcome = await search();
      const hits = await this.#marked(outcome.hits);
      if (run !== this.#run) return;
      this.hits = hits;
      this.source = outcome.source;
      this.searchMs = outcome.tookMs;
      this.phase = 'done';
    } catch (error) {
      if (run !== this.#run) return;
      this.fail(error);
    }
  }

  /** The hits, the one with the query's own bytes marked (none when the hash is unknown). */
  async #marked(hits: readonly SearchHit[]): Promise<ResultHit[]> {
    const own = await this.#queryHash;
    return hits.map((hit) =>
      own !== undefined && hit.contentHash === own ? { ...hit, isQuery: true } : hit
    );
  }

  /** A failure around the search (e.g. fetching a result's picture) shown like a search error. */
  report(message: string): void {
    ++this.#run;
    this.error = message;
    this.phase = 'failed';
  }

  private fail(error: unknown): void {
    this.error = this.#deps.describe(error);
    this.hits = [];
    this.source = undefined;
    this.phase = 'failed';
  }
}

const sameRegion = (a: Rect | undefined, b: Rect | undefined) =>
  a === b ||
  (a !== undefined &&
    b !== undefined &&
    a.x === b.x &&
    a.y === b.y &&
    a.width === b.width &&
    a.height === b.height);
