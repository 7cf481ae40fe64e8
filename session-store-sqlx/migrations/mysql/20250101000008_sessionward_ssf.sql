-- sessionward: the Shared Signals transmitter's streams and outbox
-- (InnoDB). A stream is its configuration as JSON with a version that
-- every write names (a conditional update). The outbox holds each signed
-- Security Event Token until its receiver takes it: `available_at` is the
-- next push attempt or the end of a delivery lease. Times are Unix ms.
-- The foreign key makes a SET queued while its stream is deleted wait for
-- the delete, so none is left behind.
CREATE TABLE sessionward_ssf_streams (
    stream_id  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    created_at BIGINT      NOT NULL,
    version    BIGINT      NOT NULL,
    config     MEDIUMTEXT  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL
) ENGINE = InnoDB;
CREATE TABLE sessionward_ssf_outbox (
    stream_id    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    jti          VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    set_jwt      MEDIUMTEXT  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at   BIGINT      NOT NULL,
    available_at BIGINT      NOT NULL,
    attempts     BIGINT      NOT NULL,
    PRIMARY KEY (stream_id, jti),
    KEY sessionward_ssf_outbox_due (stream_id, available_at),
    KEY sessionward_ssf_outbox_age (stream_id, created_at, jti),
    CONSTRAINT sessionward_ssf_outbox_stream FOREIGN KEY (stream_id)
        REFERENCES sessionward_ssf_streams (stream_id) ON DELETE CASCADE
) ENGINE = InnoDB;
