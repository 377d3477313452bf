-- The key/value facts moved onto the `collections` rows in 0001.
DROP TABLE `collection`;