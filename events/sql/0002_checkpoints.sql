-- Checkpoints: how far each reader of the log (the bus relay, projections) has got.
--
-- One row per reader name. `position` is the last global position the reader has
-- finished with, so it resumes from position + 1. Unlike `events`, rows change:
-- the application upserts them, and events.postgres keeps `position` from going
-- backwards (GREATEST). A projection that lives in this database writes its
-- checkpoint in the same transaction as its effect; a reader whose effect is
-- elsewhere (the relay publishing to NATS) saves it after the effect is
-- acknowledged, and relies on that effect being idempotent for the unsaved tail.

CREATE TABLE checkpoints (
    name       text        PRIMARY KEY CHECK (name <> ''),
    position   bigint      NOT NULL CHECK (position >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE checkpoints IS
    'sharehub: per-reader progress through the event log (last global position handled)';

REVOKE ALL ON checkpoints FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON checkpoints TO sharehub_app;
