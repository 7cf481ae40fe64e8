-- sessionward: the Shared Signals transmitter's streams and outbox. A
-- stream is its configuration as JSON with a version that every write
-- names (a conditional update). The outbox holds each signed Security
-- Event Token until its receiver takes it: `available_at` is the next
-- push attempt or the end of a delivery lease. Times are Unix ms.
CREATE TABLE sessionward_ssf_streams (
    stream_id  TEXT    NOT NULL PRIMARY KEY,
    created_at INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    config     TEXT    NOT NULL
);
CREATE TABLE sessionward_ssf_outbox (
    stream_id    TEXT    NOT NULL,
    jti          TEXT    NOT NULL,
    set_jwt      TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    available_at INTEGER NOT NULL,
    attempts     INTEGER NOT NULL,
    PRIMARY KEY (stream_id, jti)
);
CREATE INDEX sessionward_ssf_outbox_due ON sessionward_ssf_outbox (stream_id, available_at);
CREATE INDEX sessionward_ssf_outbox_age ON sessionward_ssf_outbox (stream_id, created_at, jti);
