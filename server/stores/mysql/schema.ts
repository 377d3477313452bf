import {
  bigint,
  char,
  customType,
  double,
  index,
  int,
  longtext,
  mysqlEnum,
  mysqlTable,
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

/** Key/value facts about the collection: model id, dimension, and the change sequence (`seq`). */
export const collection = mysqlTable('collection', {
  key: varchar('key', { length: 64 }).primaryKey(),
  value: varchar('value', { length: 255 }).notNull()
});

export const images = mysqlTable(
  'images',
  {
    // InnoDB never hands out an AUTO_INCREMENT value twice (MariaDB >= 10.2.4 and MySQL >= 8.0
    // also persist the counter across restarts), so a removal replayed later cannot hit a new image.
    id: bigint('id', { mode: 'number', unsigned: true }).autoincrement().primaryKey(),
    contentHash: char('content_hash', { length: 64 }).notNull().unique(),
    width: int('width').notNull(),
    height: int('height').notNull(),
    bytes: bigint('bytes', { mode: 'number' }).notNull(),
    format: varchar('format', { length: 32 }).notNull(),
    dhash: varchar('dhash', { length: 64 }).notNull(),
    vector: longblob('vector').notNull(),
    state: mysqlEnum('state', ['pending', 'indexed']).notNull(),
    seq: bigint('seq', { mode: 'number', unsigned: true }).notNull()
  },
  (t) => [index('images_seq').on(t.seq), index('images_state').on(t.state)]
);

export const paths = mysqlTable(
  'paths',
  {
    /** SHA-256 hex of the path's UTF-8 bytes: a 4096-byte path is too long for an InnoDB key. */
    pathHash: char('path_hash', { length: 64 }).primaryKey(),
    path: pathBytes('path').notNull(),
    imageId: bigint('image_id', { mode: 'number', unsigned: true })
      .notNull()
      .references(() => images.id, { onDelete: 'cascade' }),
    size: bigint('size', { mode: 'number' }).notNull(),
    mtimeMs: double('mtime_ms').notNull()
  },
  (t) => [index('paths_image').on(t.imageId)]
);

/** Removal log, so an index snapshot older than a removal can replay it. */
export const removed = mysqlTable('removed', {
  seq: bigint('seq', { mode: 'number', unsigned: true }).primaryKey(),
  imageId: bigint('image_id', { mode: 'number', unsigned: true }).notNull()
});

export const jobs = mysqlTable(
  'jobs',
  {
    jobId: varchar('job_id', { length: 128 }).primaryKey(),
    state: varchar('state', { length: 16 }).notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    /** The whole JobRecord as JSON: counters and errors change together (can be long: errors). */
    record: longtext('record').notNull()
  },
  (t) => [index('jobs_created').on(t.createdAt)]
);
