import { blob, index, integer, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** Key/value facts about the collection: model id, dimension, and the change sequence. */
export const collection = sqliteTable('collection', {
  key: text('key').primaryKey(),
  value: text('value').notNull()
});

export const images = sqliteTable(
  'images',
  {
    // AUTOINCREMENT: an id is never reused, so a removal replayed later cannot hit a new image.
    id: integer('id').primaryKey({ autoIncrement: true }),
    contentHash: text('content_hash').notNull().unique(),
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
  (t) => [index('images_seq').on(t.seq), index('images_state').on(t.state)]
);

export const paths = sqliteTable(
  'paths',
  {
    path: text('path').primaryKey(),
    imageId: integer('image_id')
      .notNull()
      .references(() => images.id, { onDelete: 'cascade' }),
    size: integer('size').notNull(),
    mtimeMs: real('mtime_ms').notNull()
  },
  (t) => [index('paths_image').on(t.imageId)]
);

/** Removal log, so an index snapshot older than a removal can replay it. */
export const removed = sqliteTable('removed', {
  seq: integer('seq').primaryKey(),
  imageId: integer('image_id').notNull()
});

export const jobs = sqliteTable(
  'jobs',
  {
    jobId: text('job_id').primaryKey(),
    state: text('state').notNull(),
    createdAt: integer('created_at').notNull(),
    /** The whole JobRecord as JSON: counters and errors change together. */
    record: text('record').notNull()
  },
  (t) => [index('jobs_created').on(t.createdAt)]
);
