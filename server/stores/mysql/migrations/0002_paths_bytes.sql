-- Paths become their UTF-8 bytes (VARBINARY): compared and ordered byte for byte, so pathsUnder's
-- range `root/ <= path < root0` is exact. Under utf8mb4_bin (PAD SPACE) `'a' = 'a '`, and the
-- index range MariaDB plans for `LIKE 'root/%'` skipped names starting below ' ' or above U+FFFF.
-- Stored values keep their bytes. The prefix index is rebuilt on the new type: its first 255 bytes.
DROP INDEX `paths_path_prefix` ON `paths`;--> statement-breakpoint
ALTER TABLE `paths` MODIFY COLUMN `path` varbinary(4096) NOT NULL;--> statement-breakpoint
CREATE INDEX `paths_path_prefix` ON `paths` (`path`(255));
