CREATE TABLE `library_folders` (
	`collection_id` integer NOT NULL,
	`path` text NOT NULL,
	`recursive` integer NOT NULL,
	`watched` integer DEFAULT false NOT NULL,
	`added_at` integer NOT NULL,
	PRIMARY KEY(`collection_id`, `path`)
);
--> statement-breakpoint
-- Hand-written: the folders of the index jobs already recorded become the Library's folders.
INSERT OR IGNORE INTO `library_folders` (`collection_id`, `path`, `recursive`, `watched`, `added_at`)
SELECT `c`.`id`, json_extract(`j`.`record`, '$.path'),
  max(coalesce(json_extract(`j`.`record`, '$.recursive'), 1)), 0, min(`j`.`created_at`)
FROM `jobs` `j`
JOIN `collections` `c` ON `c`.`name` = coalesce(json_extract(`j`.`record`, '$.collection'), 'default')
WHERE json_valid(`j`.`record`) AND json_type(`j`.`record`, '$.path') = 'text'
GROUP BY `c`.`id`, json_extract(`j`.`record`, '$.path');
