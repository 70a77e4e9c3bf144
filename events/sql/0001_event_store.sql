-- The event store: sharehub's legal record.
--
-- Each row keeps the exact canonical bytes (RFC 8785 JSON) that its hash covers,
-- so an auditor re-hashes stored bytes instead of re-serialising events. The
-- structured columns beside them hold the same values; actor, data and metadata
-- are `json` (not `jsonb`) so that they keep the very canonical text that was
-- hashed, and events_canonical_from_columns() below can rebuild the canonical
-- bytes from the columns by concatenation, without parsing any JSON.

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
    actor           json        NOT NULL,
    correlation_id  text,
    subject_id      text,
    data            json        NOT NULL,
    metadata        json        NOT NULL,
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

-- The canonical bytes a row's columns spell, key by key in RFC 8785 order.
-- An auditor compares them with the stored, hashed bytes: any edited column
-- shows. to_json() escapes strings as RFC 8785 does (\" \\ \b \f \n \r \t,
-- other control characters as lowercase \u00xx, everything else as is), and the
-- timestamps are spelled as events.canonical.format_timestamp spells them.
CREATE FUNCTION events_canonical_from_columns(e events) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT convert_to(
        '{"actor":' || e.actor::text
        || ',"correlation_id":' || coalesce(to_json(e.correlation_id)::text, 'null')
        || ',"data":' || e.data::text
        || ',"event_id":"' || e.event_id::text
        || '","global_position":' || e.global_position::text
        || ',"metadata":' || e.metadata::text
        || ',"occurred_at":"'
        || to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        || '","recorded_at":"'
        || to_char(e.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        || '","schema_version":' || e.schema_version::text
        || ',"stream_id":' || to_json(e.stream_id)::text
        || ',"stream_version":' || e.stream_version::text
        || ',"subject_id":' || coalesce(to_json(e.subject_id)::text, 'null')
        || ',"type":' || to_json(e.type)::text
        || '}',
        'UTF8')
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
GRANT EXECUTE ON FUNCTION events_canonical_from_columns(events) TO sharehub_app;
GRANT EXECUTE ON FUNCTION events_append_begin(text[], uuid[]) TO sharehub_app;
