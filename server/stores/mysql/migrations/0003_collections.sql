-- Named collections (issue 12), hand-ordered from drizzle-kit's output (which adds the keys before
-- the columns they name). Today's data becomes the collection `default` (id 1): its facts (model,
-- change sequence, revision) move from the key/value `collection` table onto its row (0004 drops
-- that table), and every image, path and removal gets collection_id 1 (the column DEFAULT fills
-- the existing rows and is dropped right after). Uniqueness is per collection from here on (the
-- same picture or path may be in two collections); image ids stay unique over all of them.
CREATE TABLE `collections` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`name` varbinary(64) NOT NULL,
	`model_id` varchar(255),
	`dimension` int,
	`seq` bigint unsigned NOT NULL DEFAULT 0,
	`revision` bigint unsigned NOT NULL DEFAULT 0,
	`revision_epoch` varchar(64),
	`created_at` bigint NOT NULL,
	CONSTRAINT `collections_id` PRIMARY KEY(`id`),
	CONSTRAINT `collections_name_unique` UNIQUE(`name`)
);
--> statement-breakpoint
INSERT INTO `collections` (`id`, `name`, `model_id`, `dimension`, `seq`, `revision`, `revision_epoch`, `created_at`)
SELECT 1, 'default',
	(SELECT `value` FROM `collection` WHERE `key` = 'model_id'),
	(SELECT CAST(`value` AS UNSIGNED) FROM `collection` WHERE `key` = 'dimension'),
	COALESCE((SELECT CAST(`value` AS UNSIGNED) FROM `collection` WHERE `key` = 'seq'), 0),
	COALESCE((SELECT CAST(`value` AS UNSIGNED) FROM `collection` WHERE `key` = 'revision'), 0),
	(SELECT `value` FROM `collection` WHERE `key` = 'revision_epoch'),
	CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED);--> statement-breakpoint
ALTER TABLE `images`
	ADD `collection_id` bigint unsigned NOT NULL DEFAULT 1,
	DROP INDEX `images_content_hash_unique`,
	DROP INDEX `images_seq`,
	DROP INDEX `images_state`,
	ADD CONSTRAINT `images_collection_hash` UNIQUE(`collection_id`,`content_hash`),
	ADD INDEX `images_collection_seq` (`collection_id`,`seq`),
	ADD INDEX `images_collection_state` (`collection_id`,`state`),
	ADD INDEX `images_collection_id` (`collection_id`,`id`);--> statement-breakpoint
ALTER TABLE `images` ALTER COLUMN `collection_id` DROP DEFAULT;--> statement-breakpoint
-- The hand-written prefix index (0001, 0002) leads with the collection too: pathsUnder is a range
-- scan within one collection.
ALTER TABLE `paths`
	ADD `collection_id` bigint unsigned NOT NULL DEFAULT 1,
	DROP PRIMARY KEY,
	ADD PRIMARY KEY(`collection_id`,`path_hash`),
	DROP INDEX `paths_path_prefix`,
	ADD INDEX `paths_path_prefix` (`collection_id`, `path`(255));--> statement-breakpoint
ALTER TABLE `paths` ALTER COLUMN `collection_id` DROP DEFAULT;--> statement-breakpoint
ALTER TABLE `removed`
	ADD `collection_id` bigint unsigned NOT NULL DEFAULT 1,
	DROP PRIMARY KEY,
	ADD PRIMARY KEY(`collection_id`,`seq`);--> statement-breakpoint
ALTER TABLE `removed` ALTER COLUMN `collection_id` DROP DEFAULT;
