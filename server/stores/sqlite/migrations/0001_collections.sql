-- Named collections (issue 12). Today's data becomes the collection `default` (id 1): its facts
-- (model, change sequence, revision) move from the key/value `collection` table onto its row
-- (0002 drops that table), and every image, path and removal gets collection_id 1. Uniqueness is
-- per collection from here on (the same picture or path may be in two collections); image ids
-- stay unique over all of them.
CREATE TABLE `collections` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`model_id` text,
	`dimension` integer,
	`seq` integer DEFAULT 0 NOT NULL,
	`revision` integer DEFAULT 0 NOT NULL,
	`revision_epoch` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `collections_name_unique` ON `collections` (`name`);--> statement-breakpoint
INSERT INTO `collections` (`id`, `name`, `model_id`, `dimension`, `seq`, `revision`, `revision_epoch`, `created_at`)
SELECT 1, 'default',
	(SELECT `value` FROM `collection` WHERE `key` = 'model_id'),
	(SELECT CAST(`value` AS INTEGER) FROM `collection` WHERE `key` = 'dimension'),
	COALESCE((SELECT CAST(`value` AS INTEGER) FROM `collection` WHERE `key` = 'seq'), 0),
	COALESCE((SELECT CAST(`value` AS INTEGER) FROM `collection` WHERE `key` = 'revision'), 0),
	(SELECT `value` FROM `collection` WHERE `key` = 'revision_epoch'),
	CAST(strftime('%s', 'now') AS INTEGER) * 1000;--> statement-breakpoint
DROP INDEX `images_content_hash_unique`;--> statement-breakpoint
DROP INDEX `images_seq`;--> statement-breakpoint
DROP INDEX `images_state`;--> statement-breakpoint
-- DEFAULT 1 fills the existing rows. SQLite cannot drop a column default without rebuilding the
-- table, and rebuilding `images` would cascade-delete `paths`; every insert names its collection.
ALTER TABLE `images` ADD `collection_id` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `images_collection_hash` ON `images` (`collection_id`,`content_hash`);--> statement-breakpoint
CREATE INDEX `images_collection_seq` ON `images` (`collection_id`,`seq`);--> statement-breakpoint
CREATE INDEX `images_collection_state` ON `images` (`collection_id`,`state`);--> statement-breakpoint
CREATE INDEX `images_collection_id` ON `images` (`collection_id`,`id`);--> statement-breakpoint
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_paths` (
	`collection_id` integer NOT NULL,
	`path` text NOT NULL,
	`image_id` integer NOT NULL,
	`size` integer NOT NULL,
	`mtime_ms` real NOT NULL,
	PRIMARY KEY(`collection_id`, `path`),
	FOREIGN KEY (`image_id`) REFERENCES `images`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
INSERT INTO `__new_paths`("collection_id", "path", "image_id", "size", "mtime_ms") SELECT 1, "path", "image_id", "size", "mtime_ms" FROM `paths`;--> statement-breakpoint
DROP TABLE `paths`;--> statement-breakpoint
ALTER TABLE `__new_paths` RENAME TO `paths`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `paths_image` ON `paths` (`image_id`);--> statement-breakpoint
CREATE TABLE `__new_removed` (
	`collection_id` integer NOT NULL,
	`seq` integer NOT NULL,
	`image_id` integer NOT NULL,
	PRIMARY KEY(`collection_id`, `seq`)
);
--> statement-breakpoint
INSERT INTO `__new_removed`("collection_id", "seq", "image_id") SELECT 1, "seq", "image_id" FROM `removed`;--> statement-breakpoint
DROP TABLE `removed`;--> statement-breakpoint
ALTER TABLE `__new_removed` RENAME TO `removed`;