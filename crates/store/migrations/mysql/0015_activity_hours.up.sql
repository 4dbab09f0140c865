-- Requests and upstream answers per hour (UTC), for the overview's charts; written in batches.
CREATE TABLE activity_hours (
    name  VARCHAR(255) NOT NULL,
    hour  BIGINT NOT NULL,
    count BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (name, hour),
    INDEX activity_hours_by_hour (hour)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
