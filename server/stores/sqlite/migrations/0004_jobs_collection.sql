-- The jobs' collection as a column (it was only inside the JSON record), so one collection's
-- recent jobs are one indexed read; and an index on the state, which every decision about
-- unfinished jobs (a lease renewal, a start, a cancel) reads by. Records from before named
-- collections have no `collection`: they are the default collection's.
ALTER TABLE `jobs` ADD `collection` text DEFAULT 'default' NOT NULL;--> statement-breakpoint
UPDATE `jobs` SET `collection` = coalesce(json_extract(`record`, '$.collection'), 'default');--> statement-breakpoint
CREATE INDEX `jobs_state` ON `jobs` (`state`);--> statement-breakpoint
CREATE INDEX `jobs_collection_created` ON `jobs` (`collection`,`created_at`);
