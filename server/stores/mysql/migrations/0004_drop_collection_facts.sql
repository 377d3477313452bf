-- The key/value facts moved onto the `collections` rows in 0003.
DROP TABLE `collection`;