import {
  blob,
  index,
  integer,
  primaryKey,
  real,
  sqliteTable,
  text,
  uniqueIndex
} from 'drizzle-orm/sqlite-core';

/**
 * The named collections. TEXT in SQLite's BINARY collation: names are compared exactly. Each row
 * holds its collection's facts: the model that built it, its change sequence (`seq`, the last
 * change number handed out: every collection numbers its own changes), and the content revision
 * (`revision` counter and the random `revision_epoch` picked on the first write).
 */
export const collections = sqliteTable('collections', {
  // AUTOINCREMENT: a deleted collection's id is never reused, so a recreated name is a new one
  // (its vector index file is named after the id).
  id: integer('id').primaryKey({ autoIncrement: true }),
  name: text('name').notNull().unique(),
  modelId: text('model_id'),
  dimension: integer('dimension'),
  seq: integer('seq').notNull().default(0),
  revision: integer('revision').notNull().default(0),
  revisionEpoch: text('revision_epoch'),
  createdAt: integer('created_at').notNull()
});

export const images = sqliteTable(
  'images',
  {
    // AUTOINCREMENT, over every collection: an id is never reused, so a removal replayed later
    // cannot hit a new image, and `/api/images/:id` names one picture whatever the collection.
    id: integer('id').primaryKey({ autoIncrement: true }),
    collectionId: integer('collection_id').notNull(),
    contentHash: text('content_hash').notNull(),
    width: integer('width').notNull(),
    height: integer('height').notNull(),
    bytes: integer('bytes').notNull(),
    format: text('format').notNull(),
    dhash: text('dhash').notNull(),
    /** float32 little-endian */
    vector: blob('vector', { mode: 'buffer' }).notNull(),
    state: text('state', { enum: ['pending', 'indexed'] }).notNull(),
    seq: integer('seq').notNull()
  },
  (t) => [
    uniqueIndex('images_collection_hash').on(t.collectionId, t.contentHash),
    index('images_collection_seq').on(t.collectionId, t.seq),
    index('images_collection_state').on(t.collectionId, t.state),
    index('images_collection_id').on(t.collectionId, t.id)
  ]
);

export const paths = sqliteTable(
  'paths',
  {
    collectionId: integer('collection_id').notNull(),
    path: text('path').notNull(),
    imageId: integer('image_id')
      .notNull()
      .references(() => images.id, { onDelete: 'cascade' }),
    size: integer('size').notNull(),
    mtimeMs: real('mtime_ms').notNull()
  },
  (t) => [primaryKey({ columns: [t.collectionId, t.path] }), index('paths_image').on(t.imageId)]
);

/** Removal log, so an index snapshot older than a removal can replay it. */
export const removed = sqliteTable(
  'removed',
  {
    collectionId: integer('collection_id').notNull(),
    seq: integer('seq').notNull(),
    imageId: integer('image_id').notNull()
  },
  (t) => [primaryKey({ columns: [t.collectionId, t.seq] })]
);

export const jobs = sqliteTable(
  'jobs',
  {
    jobId: text('job_id').primaryKey(),
    state: text('state').notNull(),
    createdAt: integer('created_at').notNull(),
    /** The record's collection (a name: jobs outlive their collection), to filter on. */
    collection: text('collection').notNull().default('default'),
    /** The whole JobRecord as JSON: counters and errors change together. */
    record: text('record').notNull()
  },
  (t) => [
    index('jobs_created').on(t.createdAt),
    // Every decision about unfinished jobs (a lease renewal, a start, a cancel) reads them by state.
    index('jobs_state').on(t.state),
    index('jobs_collection_created').on(t.collection, t.createdAt)
  ]
);

/**
 * The Library: the folders of each collection (every folder an index job was started for) and
 * whether the server watches them for changes. Paths are real paths, compared byte for byte.
 * Collection data (deleted with the collection, forgotten by a clear), so servers sharing the
 * database see one list.
 */
export const libraryFolders = sqliteTable(
  'library_folders',
  {
    collectionId: integer('collection_id').notNull(),
    path: text('path').notNull(),
    recursive: integer('recursive', { mode: 'boolean' }).notNull(),
    watched: integer('watched', { mode: 'boolean' }).notNull().default(false),
    addedAt: integer('added_at').notNull()
  },
  (t) => [primaryKey({ columns: [t.collectionId, t.path] })]
);
