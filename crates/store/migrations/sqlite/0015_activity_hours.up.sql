-- Requests and upstream answers per hour (UTC), for the overview's charts; written in batches.
CREATE TABLE activity_hours (
    name  TEXT NOT NULL,
    hour  INTEGER NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (name, hour)
) STRICT;
CREATE INDEX activity_hours_by_hour ON activity_hours (hour);
