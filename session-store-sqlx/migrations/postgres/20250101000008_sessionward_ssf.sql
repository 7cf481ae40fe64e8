-- sessionward: the Shared Signals transmitter's streams and outbox. A
-- stream is its configuration as JSON with a version that every write
-- names (a conditional update). The outbox holds each signed Security
-- Event Token until its receiver takes it: `available_at` is the next
-- push attempt or the end of a delivery lease. Times are Unix ms. The
-- foreign key makes a SET queued while its stream is deleted wait for the
-- delete, so none is left behind.
CREATE TABLE sessionward_ssf_streams (
    stream_id  TEXT   NOT NULL PRIMARY KEY,
    created_at BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    config     TEXT   NOT NULL
);
CREATE TABLE sessionward_ssf_outbox (
    stream_id    TEXT   NOT NULL REFERENCES sessionward_ssf_streams (stream_id) ON DELETE CASCADE,
    jti          TEXT   NOT NULL,
    set_jwt      TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    available_at BIGINT NOT NULL,
    attempts     BIGINT NOT NULL,
    PRIMARY KEY (stream_id, jti)
);
CREATE INDEX sessionward_ssf_outbox_due ON sessionward_ssf_outbox (stream_id, available_at);
CREATE INDEX sessionward_ssf_outbox_age ON sessionward_ssf_outbox (stream_id, created_at, jti);
