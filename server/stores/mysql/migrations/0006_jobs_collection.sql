-- The jobs' collection as a column (it was only inside the JSON record), so one collection's
-- recent jobs are one indexed read; and an index on the state: the decisions about unfinished
-- jobs read (and lock) them by state, which scanned, and locked, every row before. Records from
-- before named collections have no `collection`: they are the default collection's.
ALTER TABLE `jobs` ADD `collection` varchar(64) DEFAULT 'default' NOT NULL;--> statement-breakpoint
UPDATE `jobs` SET `collection` = coalesce(json_unquote(json_extract(`record`, '$.collection')), 'default');--> statement-breakpoint
CREATE INDEX `jobs_state` ON `jobs` (`state`);--> statement-breakpoint
CREATE INDEX `jobs_collection_created` ON `jobs` (`collection`,`created_at`);
