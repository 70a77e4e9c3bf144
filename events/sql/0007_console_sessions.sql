-- The web console's signed-in sessions, recorded so that they can end on the server.
--
-- The browser's cookie holds a random session id (signed); this table holds only its
-- SHA-256, so a copy of the table signs no one in. A session ends when its person
-- signs out (ended_at), when it has not been used for the idle timeout
-- (last_seen_at), or a working day after it started (started_at): every request
-- checks all three in the same UPDATE that marks it used, so any API process behind
-- one address sees the same sessions. Rows ended or idle for a day are deleted when
-- someone signs in; they are not part of the record (the log keeps every action).

CREATE TABLE console_sessions (
    session_hash  bytea       PRIMARY KEY CHECK (length(session_hash) = 32),
    client_id     uuid        NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    ended_at      timestamptz
);

CREATE INDEX console_sessions_last_seen ON console_sessions (last_seen_at);

COMMENT ON TABLE console_sessions IS
    'sharehub: the web console''s signed-in sessions (hashed ids), ended by sign-out or idleness';

REVOKE ALL ON console_sessions FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON console_sessions TO sharehub_app;
