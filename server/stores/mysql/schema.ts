import {
  bigint,
  boolean,
  char,
  customType,
  double,
  index,
  int,
  longtext,
  mysqlEnum,
  mysqlTable,
  primaryKey,
  uniqueIndex,
  varchar
} from 'drizzle-orm/mysql-core';

/**
 * float32 little-endian. LONGBLOB: a 2048-d vector is 8 KiB; the type costs the same per row as
 * BLOB and never caps the dimension.
 */
const longblob = customType<{ data: Buffer; driverData: Buffer }>({
  dataType: () => 'longblob'
});

/**
 * A file path: its UTF-8 bytes, up to the 4096-byte file-system limit. VARBINARY, so equality and
 * order are byte for byte: no collation folds case, and none pads with spaces (under the PAD
 * SPACE utf8mb4_bin, `'a' = 'a '` and an index range skips names starting below ' ').
 */
const pathBytes = customType<{ data: string; driverData: Buffer }>({
  dataType: () => 'varbinary(4096)',
  toDriver: (path) => Buffer.from(path, 'utf8'),
  fromDriver: (bytes) => Buffer.from(bytes).toString('utf8')
});

/**
 * A collection name: its bytes (ASCII by collection-names.ts), so names compare exactly whatever
 * the database's collation: `Photos` and `photos` are two collections.
 */
const nameBytes = customType<{ data: string; driverData: Buffer }>({
  dataType: () => 'varbinary(64)',
  toDriver: (name) => Buffer.from(name, 'utf8'),
  fromDriver: (bytes) => Buffer.from(bytes).toString('utf8')
});

/**
 * The named collections, each with its facts: the model that built it, its change sequence
 * (`seq`, the last change number handed out; the row is locked by every content write), and the
 * content revision (`revision` counter and the random `revision_epoch` of the first write).
 */
export const collections = mysqlTable('collections', {
  // Never reused (see images.id): a collection deleted and created again is a new one.
  id: bigint('id', { mode: 'number', unsigned: true }).autoincrement().primaryKey(),
  name: nameBytes('name').notNull().unique(),
  modelId: varchar('model_id', { length: 255 }),
  dimension: int('dimension'),
  seq: bigint('seq', { mode: 'number', unsigned: true }).notNull().default(0),
  revision: bigint('revision', { mode: 'number', unsigned: true }).notNull().default(0),
  revisionEpoch: varchar('revision_epoch', { length: 64 }),
  createdAt: bigint('created_at', { mode: 'number' }).notNull()
});

export const images = mysqlTable(
  'images',
  {
    // InnoDB never hands out an AUTO_INCREMENT value twice (MariaDB >= 10.2.4 and MySQL >= 8.0
    // also persist the counter across restarts), so a removal replayed later cannot hit a new image.
    id: bigint('id', { mode: 'number', unsigned: true }).autoincrement().primaryKey(),
    collectionId: bigint('collection_id', { mode: 'number', unsigned: true }).notNull(),
    contentHash: char('content_hash', { length: 64 }).notNull(),
    width: int('width').notNull(),
    height: int('height').notNull(),
    bytes: bigint('bytes', { mode: 'number' }).notNull(),
    format: varchar('format', { length: 32 }).notNull(),
    dhash: varchar('dhash', { length: 64 }).notNull(),
    vector: longblob('vector').notNull(),
    state: mysqlEnum('state', ['pending', 'indexed']).notNull(),
    seq: bigint('seq', { mode: 'number', unsigned: true }).notNull()
  },
  (t) => [
    uniqueIndex('images_collection_hash').on(t.collectionId, t.contentHash),
    index('images_collection_seq').on(t.collectionId, t.seq),
    index('images_collection_state').on(t.collectionId, t.state),
    index('images_collection_id').on(t.collectionId, t.id)
  ]
);

export const paths = mysqlTable(
  'paths',
  {
    collectionId: bigint('collection_id', { mode: 'number', unsigned: true }).notNull(),
    /** SHA-256 hex of the path's UTF-8 bytes: a 4096-byte path is too long for an InnoDB key. */
    pathHash: char('path_hash', { length: 64 }).notNull(),
    path: pathBytes('path').notNull(),
    imageId: bigint('image_id', { mode: 'number', unsigned: true })
      .notNull()
      .references(() => images.id, { onDelete: 'cascade' }),
    size: bigint('size', { mode: 'number' }).notNull(),
    mtimeMs: double('mtime_ms').notNull()
  },
  (t) => [
    primaryKey({ name: 'paths_pk', columns: [t.collectionId, t.pathHash] }),
    index('paths_image').on(t.imageId)
  ]
);

/** Removal log, so an index snapshot older than a removal can replay it. */
export const removed = mysqlTable(
  'removed',
  {
    collectionId: bigint('collection_id', { mode: 'number', unsigned: true }).notNull(),
    seq: bigint('seq', { mode: 'number', unsigned: true }).notNull(),
    imageId: bigint('image_id', { mode: 'number', unsigned: true }).notNull()
  },
  (t) => [primaryKey({ name: 'removed_pk', columns: [t.collectionId, t.seq] })]
);

export const jobs = mysqlTable(
  'jobs',
  {
    jobId: varchar('job_id', { length: 128 }).primaryKey(),
    state: varchar('state', { length: 16 }).notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    /** The record's collection (a name: jobs outlive their collection), to filter on. */
    collection: varchar('collection', { length: 64 }).notNull().default('default'),
    /** The whole JobRecord as JSON: counters and errors change together (can be long: errors). */
    record: longtext('record').notNull()
  },
  (t) => [
    index('jobs_created').on(t.createdAt),
    // Every decision about unfinished jobs locks the rows it reads: by state, only those.
    index('jobs_state').on(t.state),
    index('jobs_collection_created').on(t.collection, t.createdAt)
  ]
);

/**
 * The Library: the folders of each collection (every folder an index job was started for) and
 * whether the server watches them for changes. Keyed like `paths` (a path's hash: a 4096-byte
 * path is too long for an InnoDB key). Collection data, so servers sharing MySQL see one list.
 */
export const libraryFolders = mysqlTable(
  'library_folders',
  {
    collectionId: bigint('collection_id', { mode: 'number', unsigned: true }).notNull(),
    pathHash: char('path_hash', { length: 64 }).notNull(),
    path: pathBytes('path').notNull(),
    recursive: boolean('recursive').notNull(),
    watched: boolean('watched').notNull().default(false),
    addedAt: bigint('added_at', { mode: 'number' }).notNull()
  },
  (t) => [primaryKey({ name: 'library_folders_pk', columns: [t.collectionId, t.pathHash] })]
);
