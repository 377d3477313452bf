CREATE TABLE `collection` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `images` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`content_hash` text NOT NULL,
	`width` integer NOT NULL,
	`height` integer NOT NULL,
	`bytes` integer NOT NULL,
	`format` text NOT NULL,
	`dhash` text NOT NULL,
	`vector` blob NOT NULL,
	`state` text NOT NULL,
	`seq` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `images_content_hash_unique` ON `images` (`content_hash`);--> statement-breakpoint
CREATE INDEX `images_seq` ON `images` (`seq`);--> statement-breakpoint
CREATE INDEX `images_state` ON `images` (`state`);--> statement-breakpoint
CREATE TABLE `jobs` (
	`job_id` text PRIMARY KEY NOT NULL,
	`state` text NOT NULL,
	`created_at` integer NOT NULL,
	`record` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `jobs_created` ON `jobs` (`created_at`);--> statement-breakpoint
CREATE TABLE `paths` (
	`path` text PRIMARY KEY NOT NULL,
	`image_id` integer NOT NULL,
	`size` integer NOT NULL,
	`mtime_ms` real NOT NULL,
	FOREIGN KEY (`image_id`) REFERENCES `images`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `paths_image` ON `paths` (`image_id`);--> statement-breakpoint
CREATE TABLE `removed` (
	`seq` integer PRIMARY KEY NOT NULL,
	`image_id` integer NOT NULL
);
