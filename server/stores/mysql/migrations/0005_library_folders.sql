CREATE TABLE `library_folders` (
	`collection_id` bigint unsigned NOT NULL,
	`path_hash` char(64) NOT NULL,
	`path` varbinary(4096) NOT NULL,
	`recursive` boolean NOT NULL,
	`watched` boolean NOT NULL DEFAULT false,
	`added_at` bigint NOT NULL,
	CONSTRAINT `library_folders_pk` PRIMARY KEY(`collection_id`,`path_hash`)
);
--> statement-breakpoint
-- Hand-written: the folders of the index jobs already recorded become the Library's folders.
INSERT IGNORE INTO `library_folders` (`collection_id`, `path_hash`, `path`, `recursive`, `watched`, `added_at`)
SELECT `c`.`id`, SHA2(`f`.`path`, 256), CONVERT(`f`.`path` USING utf8mb4), MAX(`f`.`recursive`), false, MIN(`f`.`created_at`)
FROM (
  SELECT JSON_UNQUOTE(JSON_EXTRACT(`record`, '$.path')) AS `path`,
    COALESCE(JSON_UNQUOTE(JSON_EXTRACT(`record`, '$.collection')), 'default') AS `collection`,
    IF(JSON_UNQUOTE(JSON_EXTRACT(`record`, '$.recursive')) = 'false', 0, 1) AS `recursive`,
    `created_at`
  FROM `jobs` WHERE JSON_VALID(`record`)
) `f`
JOIN `collections` `c` ON `c`.`name` = CONVERT(`f`.`collection` USING utf8mb4)
WHERE `f`.`path` IS NOT NULL
GROUP BY `c`.`id`, `f`.`path`;
