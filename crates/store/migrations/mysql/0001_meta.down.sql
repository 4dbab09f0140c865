DROP TABLE kunci_meta;
