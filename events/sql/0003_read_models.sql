-- Read models: what the API's lists and views read, built from the event log.
--
-- The projector (events/projections.py) folds events into these tables and saves
-- its checkpoint (checkpoints.name = 'read-models') in the same transaction, so
-- the tables always reflect exactly the events up to that position. They hold no
-- personal data: a view that shows who the child is reads it from the event store
-- (decrypted with the subject's key), so shredding a key also empties the views.
-- `sharehub projections rebuild` empties them and folds the whole log again.

CREATE TABLE share_request_view (
    request_id       uuid        PRIMARY KEY,
    referrer_agency  text        NOT NULL,
    raised_by        text        NOT NULL,
    purpose          text        NOT NULL,
    recipients       jsonb       NOT NULL,   -- {agency: [categories asked for]}
    lawful_basis     text        NOT NULL,
    consent          text        NOT NULL,
    stage            text        NOT NULL,
    rag              text,
    sla_deadline     timestamptz,
    handed_to_emergency_duty_team boolean NOT NULL DEFAULT false,
    sla_breached_at  timestamptz,
    outcome          text,
    decided_at       timestamptz,
    decided_by       text,
    signed_off_by    text,
    referrer_told_at timestamptz,
    disclosures_sent integer     NOT NULL DEFAULT 0,
    disclosures_acknowledged integer NOT NULL DEFAULT 0,
    family_step      text,
    family_revisit_on date,
    -- The queue's order: rank 0 = a clock is running (due_at is the moment the
    -- hub must act by: the SLA deadline, or for a request not yet rated, when it
    -- was raised), rank 1 = nothing due from the hub; then the oldest first.
    queue_rank       smallint    NOT NULL,
    queue_due_at     timestamptz NOT NULL,
    policy_version   text        NOT NULL,
    raised_at        timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    last_position    bigint      NOT NULL
);
-- An agency's own requests, newest first; the hub's queue by time left.
CREATE INDEX share_request_view_by_referrer
    ON share_request_view (referrer_agency, raised_at DESC, request_id);
CREATE INDEX share_request_view_queue
    ON share_request_view (queue_rank, queue_due_at, request_id);

CREATE TABLE disclosure_view (
    disclosure_id    uuid        PRIMARY KEY,
    request_id       uuid        NOT NULL,
    agency           text        NOT NULL,
    categories       jsonb       NOT NULL,
    purpose          text        NOT NULL,
    caveats          jsonb       NOT NULL,
    sent_at          timestamptz NOT NULL,
    acknowledge_by   timestamptz NOT NULL,
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    overdue_at       timestamptz
);
CREATE INDEX disclosure_view_by_agency ON disclosure_view (agency, sent_at DESC, disclosure_id);
CREATE INDEX disclosure_view_by_request ON disclosure_view (request_id);

CREATE TABLE advice_view (
    advice_id        uuid        PRIMARY KEY,
    request_id       uuid        NOT NULL,
    question         text        NOT NULL,
    sought_at        timestamptz NOT NULL,
    sought_by        text        NOT NULL,
    due_by           timestamptz NOT NULL,
    answered_at      timestamptz,
    answered_by      text,
    advice           text
);
CREATE INDEX advice_view_inbox ON advice_view (answered_at NULLS FIRST, due_by, advice_id);
CREATE INDEX advice_view_by_request ON advice_view (request_id);

CREATE TABLE api_client_view (
    client_id        uuid        PRIMARY KEY,
    name             text        NOT NULL,
    role             text        NOT NULL,
    agency           text,
    created_at       timestamptz NOT NULL,
    created_by       text        NOT NULL,
    revoked_at       timestamptz,
    revoked_by       text
);

-- Idempotency keys of the HTTP API: not part of the legal record (the request the
-- first call raised is), only what lets a repeat get the first answer.
CREATE TABLE idempotency_keys (
    client_id        uuid        NOT NULL,
    key              text        NOT NULL CHECK (key <> '' AND length(key) <= 200),
    body_digest      bytea       NOT NULL,
    request_id       uuid        NOT NULL UNIQUE,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, key)
);

REVOKE ALL ON share_request_view, disclosure_view, advice_view, api_client_view, idempotency_keys
    FROM PUBLIC;
-- DELETE: a rebuild empties the views (in the same transaction as the checkpoint reset).
GRANT SELECT, INSERT, UPDATE, DELETE
    ON share_request_view, disclosure_view, advice_view, api_client_view TO sharehub_app;
GRANT SELECT, INSERT ON idempotency_keys TO sharehub_app;
