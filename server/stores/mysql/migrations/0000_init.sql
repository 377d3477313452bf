CREATE TABLE `collection` (
	`key` varchar(64) NOT NULL,
	`value` varchar(255) NOT NULL,
	CONSTRAINT `collection_key` PRIMARY KEY(`key`)
);
--> statement-breakpoint
CREATE TABLE `images` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`content_hash` char(64) NOT NULL,
	`width` int NOT NULL,
	`height` int NOT NULL,
	`bytes` bigint NOT NULL,
	`format` varchar(32) NOT NULL,
	`dhash` varchar(64) NOT NULL,
	`vector` longblob NOT NULL,
	`state` enum('pending','indexed') NOT NULL,
	`seq` bigint unsigned NOT NULL,
	CONSTRAINT `images_id` PRIMARY KEY(`id`),
	CONSTRAINT `images_content_hash_unique` UNIQUE(`content_hash`)
);
--> statement-breakpoint
CREATE TABLE `jobs` (
	`job_id` varchar(128) NOT NULL,
	`state` varchar(16) NOT NULL,
	`created_at` bigint NOT NULL,
	`record` longtext NOT NULL,
	CONSTRAINT `jobs_job_id` PRIMARY KEY(`job_id`)
);
--> statement-breakpoint
CREATE TABLE `paths` (
	`path_hash` char(64) NOT NULL,
	`path` varchar(4096) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	`image_id` bigint unsigned NOT NULL,
	`size` bigint NOT NULL,
	`mtime_ms` double NOT NULL,
	CONSTRAINT `paths_path_hash` PRIMARY KEY(`path_hash`)
);
--> statement-breakpoint
CREATE TABLE `removed` (
	`seq` bigint unsigned NOT NULL,
	`image_id` bigint unsigned NOT NULL,
	CONSTRAINT `removed_seq` PRIMARY KEY(`seq`)
);
--> statement-breakpoint
ALTER TABLE `paths` ADD CONSTRAINT `paths_image_id_images_id_fk` FOREIGN KEY (`image_id`) REFERENCES `images`(`id`) ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX `images_seq` ON `images` (`seq`);--> statement-breakpoint
CREATE INDEX `images_state` ON `images` (`state`);--> statement-breakpoint
CREATE INDEX `jobs_created` ON `jobs` (`created_at`);--> statement-breakpoint
CREATE INDEX `paths_image` ON `paths` (`image_id`);