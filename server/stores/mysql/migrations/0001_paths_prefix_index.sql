-- Hand-written (drizzle-kit cannot express a prefix index). pathsUnder runs
-- `path = ? OR path LIKE 'prefix/%' ESCAPE '\\'`: with an index on the first 255 characters of
-- `path` that is a range scan instead of a full table scan (a 4096-character column cannot be
-- indexed whole: InnoDB keys stop at 3072 bytes). Roots longer than 255 characters still work;
-- the range is then wider and MySQL re-checks the full value of each row.
CREATE INDEX `paths_path_prefix` ON `paths` (`path`(255));
