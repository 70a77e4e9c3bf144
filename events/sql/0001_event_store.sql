-- The event store: sharehub's legal record.
--
-- Each row keeps the exact canonical bytes (RFC 8785 JSON) that its hash covers,
-- so an auditor re-hashes stored bytes instead of re-serialising events, and the
-- structured columns beside them are checked against those bytes by
-- events_row_matches_canonical() below.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sharehub_app') THEN
        -- The role the application runs as: it may add and read events, never change them.
        CREATE ROLE sharehub_app NOLOGIN;
    END IF;
END
$$;

CREATE TABLE events (
    global_position bigint      PRIMARY KEY CHECK (global_position > 0),
    stream_id       text        NOT NULL,
    stream_version  integer     NOT NULL CHECK (stream_version > 0),
    event_id        uuid        NOT NULL UNIQUE,
    type            text        NOT NULL,
    schema_version  integer     NOT NULL,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL,
    actor           jsonb       NOT NULL,
    correlation_id  text,
    subject_id      text,
    data            jsonb       NOT NULL,
    metadata        jsonb       NOT NULL,
    canonical       bytea       NOT NULL,
    prev_hash       bytea       NOT NULL CHECK (length(prev_hash) = 32),
    hash            bytea       NOT NULL CHECK (length(hash) = 32),
    UNIQUE (stream_id, stream_version)
);

COMMENT ON TABLE events IS
    'sharehub legal record: append-only, hash-chained (hash = sha256(prev_hash || canonical))';

-- Append-only, enforced here rather than trusted to the application: the
-- trigger fires for the table owner too; only a superuser who disables them can
-- alter a row, and the hash chain then shows where.
CREATE FUNCTION events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'sharehub: the event store is append-only; % on events is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Recorded events are the legal record. Correct a mistake by appending a new event.';
END
$$;

-- Statement-level, so an UPDATE or DELETE is refused even when it matches no row.
CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();

-- Does a row's structured copy say exactly what its hashed canonical bytes say?
-- Verification runs this on the server, in a parallel scan, while the client
-- hashes the bytes.
CREATE FUNCTION events_row_matches_canonical(e events) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT convert_from(e.canonical, 'UTF8')::jsonb = jsonb_build_object(
        'global_position', e.global_position,
        'stream_id', e.stream_id,
        'stream_version', e.stream_version,
        'event_id', e.event_id,
        'type', e.type,
        'schema_version', e.schema_version,
        'occurred_at', to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'recorded_at', to_char(e.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'actor', e.actor,
        'correlation_id', e.correlation_id,
        'subject_id', e.subject_id,
        'data', e.data,
        'metadata', e.metadata)
$$;

-- The first step of every append transaction, in one round trip: take the
-- append lock, then read the head of the log, the current version of each
-- stream being appended to, and which of the event ids are already recorded.
--
-- Why a lock held to COMMIT: global positions must be gap-free and in commit
-- order, so a reader that has seen position N never later finds a smaller
-- position appear. A sequence would leave gaps on rollback and let a later
-- position commit first. With the lock, appenders take turns: each reads the
-- head after the previous one committed, writes, and commits before the next
-- one reads. The reads come after the lock inside this VOLATILE function, so
-- under READ COMMITTED they take a snapshot that includes every append that
-- committed before the lock was granted.
CREATE FUNCTION events_append_begin(streams text[], event_ids uuid[],
    OUT head_position bigint, OUT head_hash bytea, OUT versions integer[],
    OUT existing_ids uuid[])
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(91625832338500);  -- the append lock: only appends take it
    SELECT e.global_position, e.hash INTO head_position, head_hash
        FROM events e ORDER BY e.global_position DESC LIMIT 1;
    SELECT coalesce(array_agg(
               (SELECT coalesce(max(e.stream_version), 0) FROM events e
                 WHERE e.stream_id = s.stream_id) ORDER BY s.n), '{}')
        INTO versions
        FROM unnest(streams) WITH ORDINALITY AS s(stream_id, n);
    SELECT coalesce(array_agg(e.event_id), '{}') INTO existing_ids
        FROM events e WHERE e.event_id = ANY(event_ids);
END
$$;

-- Per-subject data keys (AES-256-GCM), each wrapped with the deployment's master
-- key. Shredding sets wrapped_key to NULL: the subject's personal data becomes
-- unreadable while every event, and so the hash chain, stays as recorded.
CREATE TABLE subject_keys (
    subject_id  text        PRIMARY KEY,
    wrapped_key bytea,
    created_at  timestamptz NOT NULL DEFAULT now(),
    shredded_at timestamptz,
    CHECK ((wrapped_key IS NULL) = (shredded_at IS NOT NULL))
);

CREATE FUNCTION subject_keys_refuse_unshred() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'sharehub: subject keys are shredded, never deleted'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.shredded_at IS NOT NULL OR NEW.subject_id <> OLD.subject_id
       OR NEW.wrapped_key IS NOT NULL THEN
        RAISE EXCEPTION 'sharehub: a subject key can only be shredded, never changed or restored'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER subject_keys_shred_only
    BEFORE UPDATE OR DELETE ON subject_keys
    FOR EACH ROW EXECUTE FUNCTION subject_keys_refuse_unshred();

REVOKE ALL ON events, subject_keys FROM PUBLIC;
GRANT SELECT, INSERT ON events TO sharehub_app;
GRANT SELECT, INSERT ON subject_keys TO sharehub_app;
GRANT UPDATE (wrapped_key, shredded_at) ON subject_keys TO sharehub_app;
GRANT EXECUTE ON FUNCTION events_row_matches_canonical(events) TO sharehub_app;
GRANT EXECUTE ON FUNCTION events_append_begin(text[], uuid[]) TO sharehub_app;
