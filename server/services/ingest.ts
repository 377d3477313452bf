import { createHash } from 'node:crypto';
import { differenceHash } from '#core/dhash';
import type { Embedder } from '../embedding/embedder';
import type { ImageDecoder } from '../embedding/image-decoder';
import type { ImageRecord, NewImage, PathRecord } from '../stores/catalog';
import type { Collection } from './collection';

/** A file as the catalog records it: the facts incremental indexing compares. */
export type FileFacts = Omit<PathRecord, 'imageId'>;

/** Runs a decode and embed, e.g. through the EncodeLimiter. */
export type EncodeRunner = <T>(task: () => Promise<T>) => Promise<T>;

/** What a picture is, apart from where its files are. */
interface ContentFacts {
  /** SHA-256 of the file's bytes. */
  contentHash: string;
  /** File size in bytes. */
  bytes: number;
}

/**
 * One file's bytes, examined: content the collection already has, new content decoded to the
 * model's input pixels (the bytes are let go), new content already embedded, or bytes the decoder
 * refused.
 */
export type Content =
  | (ContentFacts & { kind: 'known'; image: ImageRecord })
  | (ContentFacts & {
      kind: 'decoded';
      width: number;
      height: number;
      format: string;
      pixels: Uint8Array;
    })
  | (ContentFacts & { kind: 'embedded' } & Pick<
        NewImage,
        'width' | 'height' | 'format' | 'dhash' | 'vector'
      >)
  | (ContentFacts & { kind: 'rejected'; error: unknown });

/** A file to add: where it is, what it holds, and the picture its path pointed at before. */
export interface IngestEntry {
  file: FileFacts;
  content: Exclude<Content, { kind: 'rejected' }>;
  previousImageId?: number;
}

/**
 * What became of an entry: `added` (new content, now in both stores), `linked` (its path now
 * points at a picture the collection had), `unchanged` (it already pointed there), or `stale`
 * (its content was known when examined but has been removed since; nothing written: examine the
 * bytes again).
 */
export type IngestOutcome =
  { kind: 'added' | 'linked' | 'unchanged'; imageId: number } | { kind: 'stale' };

export interface IngestDeps {
  collection: Pick<Collection, 'imagesByHashes' | 'addByContent'>;
  /** Not needed when every content arrives `embedded` (a migration). */
  decoder?: Pick<ImageDecoder, 'decode'>;
  embedder?: Pick<Embedder, 'embedPixels' | 'manifest'>;
}

/**
 * The one way pictures enter a collection, for index jobs (folders), uploads (one file over HTTP)
 * and migrations (vectors already computed): by content, each file's bytes read once by the
 * caller.
 *
 * 1. `examine`: hash every buffer, look all hashes up in one query, decode only content the
 *    collection lacks (once per content) — and, for a single upload, embed it at once.
 * 2. `add`: look the batch's hashes up again (content another batch added meanwhile is linked,
 *    not embedded twice), embed the new content in one model call (dHash from the same pixels),
 *    then one `Collection.addByContent`, which writes under the write-ahead protocol and links
 *    content that another writer added at the same time.
 *
 * Examining the next batch while the current one is added overlaps decoding with inference.
 */
export class Ingest {
  constructor(private readonly deps: IngestDeps) {}

  /**
   * Hashes, looks up (one query) and decodes new content. A buffer the decoder refuses comes back
   * `rejected` with the decoder's error; store errors are thrown (nothing about the file is known).
   * `embed`: also embed the new content now (one picture on its own: an upload). `encode` runs the
   * decoding and embedding (not the look-up), e.g. through the EncodeLimiter.
   */
  async examine(
    buffers: readonly Uint8Array[],
    options: { embed?: boolean; encode?: EncodeRunner } = {}
  ): Promise<Content[]> {
    const hashes = buffers.map((bytes) => createHash('sha256').update(bytes).digest('hex'));
    const known = await this.deps.collection.imagesByHashes([...new Set(hashes)]);
    // One decode per new content, however many of the buffers hold it.
    const firstOf = new Map<string, number>();
    hashes.forEach((hash, i) => {
      if (!known.has(hash) && !firstOf.has(hash)) firstOf.set(hash, i);
    });
    const work = async () => {
      const examined = await Promise.all(
        [...firstOf].map(([hash, i]) => this.decode(buffers[i]!, hash))
      );
      if (!options.embed) return examined;
      const embedded = await this.embed(examined.filter(isDecoded));
      return examined.map((c) => embedded.get(c.contentHash) ?? c);
    };
    const fresh = new Map(
      (firstOf.size === 0 ? [] : await (options.encode ?? run)(work)).map((c) => [c.contentHash, c])
    );
    return hashes.map((contentHash, i): Content => {
      const image = known.get(contentHash);
      const bytes = buffers[i]!.length;
      if (image) return { kind: 'known', contentHash, bytes, image };
      return { ...fresh.get(contentHash)!, bytes };
    });
  }

  /**
   * Adds a batch durably: new content embedded once and added, known content linked. Outcomes in
   * input order. One hash look-up, at most one model call and one collection write per batch.
   */
  async add(entries: readonly IngestEntry[]): Promise<IngestOutcome[]> {
    if (entries.length === 0) return [];
    const { collection } = this.deps;
    const now = await collection.imagesByHashes([
      ...new Set(entries.map((e) => e.content.contentHash))
    ]);
    // Content examined as new may have been added since (by the batch before, or an upload).
    const toEmbed = new Map<string, Decoded>();
    for (const { content } of entries) {
      if (isDecoded(content) && !now.has(content.contentHash))
        toEmbed.set(content.contentHash, content);
    }
    const embedded = await this.embed([...toEmbed.values()]);

    const images: NewImage[] = [];
    const imageOf: number[] = [];
    const links: PathRecord[] = [];
    const outcomes: IngestOutcome[] = entries.map(({ file, content, previousImageId }, i) => {
      const image = now.get(content.contentHash);
      if (image) {
        links.push({ ...file, imageId: image.id });
        return { kind: previousImageId === image.id ? 'unchanged' : 'linked', imageId: image.id };
      }
      if (content.kind === 'known') return { kind: 'stale' };
      const ready = content.kind === 'embedded' ? content : embedded.get(content.contentHash)!;
      imageOf[i] = images.length;
      images.push({
        contentHash: content.contentHash,
        bytes: content.bytes,
        width: ready.width,
        height: ready.height,
        format: ready.format,
        dhash: ready.dhash,
        vector: ready.vector,
        file
      });
      return { kind: 'stale' }; // replaced below once written
    });
    const added = await collection.addByContent(images, links);
    imageOf.forEach((at, i) => {
      const { id, created } = added[at]!;
      outcomes[i] =
        created || entries[i]!.previousImageId !== id
          ? { kind: created ? 'added' : 'linked', imageId: id }
          : { kind: 'unchanged', imageId: id };
    });
    return outcomes;
  }

  private decode(bytes: Uint8Array, contentHash: string): Promise<Content> {
    const { decoder, embedder } = this.model();
    return decoder.decode(bytes, embedder.manifest).then(
      ({ width, height, format, pixels }): Content => ({
        kind: 'decoded',
        contentHash,
        bytes: bytes.length,
        width,
        height,
        format,
        pixels
      }),
      (error: unknown): Content => ({ kind: 'rejected', contentHash, bytes: bytes.length, error })
    );
  }

  private model() {
    const { decoder, embedder } = this.deps;
    if (!decoder || !embedder) throw new Error('This Ingest only adds content already embedded');
    return { decoder, embedder };
  }

  /** Decoded content embedded in one model call, with the dHash of the same pixels; by hash. */
  private async embed(decoded: readonly Decoded[]): Promise<Map<string, Embedded>> {
    if (decoded.length === 0) return new Map();
    const { embedder } = this.model();
    const vectors = await embedder.embedPixels(decoded.map((c) => c.pixels));
    const { width, height } = embedder.manifest.input;
    return new Map(
      decoded.map(({ pixels, ...facts }, i) => [
        facts.contentHash,
        {
          ...facts,
          kind: 'embedded',
          dhash: differenceHash(pixels, width, height),
          vector: vectors[i]!
        }
      ])
    );
  }
}

type Decoded = Extract<Content, { kind: 'decoded' }>;
type Embedded = Extract<Content, { kind: 'embedded' }>;
const isDecoded = (c: Content): c is Decoded => c.kind === 'decoded';

const run: EncodeRunner = (task) => task();
