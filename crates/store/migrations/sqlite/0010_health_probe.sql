-- One row the health check rewrites while writes are failing (a full or read-only disk), so
-- that the server sees when the database can write again without waiting for a caller's write.
CREATE TABLE health_probe (
    id          INTEGER NOT NULL PRIMARY KEY,
    checked_at  TEXT    NOT NULL
);
