DROP TABLE upstream_usage;
