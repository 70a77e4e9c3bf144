-- Signed checkpoints: a signed commitment to the whole log at a moment.
--
-- Each row says "the first `tree_size` events of the log have RFC 9162 Merkle
-- root `root_hash`, and the chain's head hash there is `head_hash`", signed with
-- the deployment's Ed25519 checkpoint key. The private key is never here; the
-- public key that verifies a row is named by `key_id` (SHA-256 of its raw
-- bytes). A copy of every row is also published to a JetStream stream that
-- refuses deletes and purges, so rewriting this table cannot go unnoticed.
--
-- Rows are append-only like events: one per tree size, never changed.

CREATE TABLE signed_checkpoints (
    tree_size  bigint      PRIMARY KEY CHECK (tree_size >= 1),
    root_hash  bytea       NOT NULL CHECK (length(root_hash) = 32),
    head_hash  bytea       NOT NULL CHECK (length(head_hash) = 32),
    signed_at  timestamptz NOT NULL,
    key_id     bytea       NOT NULL CHECK (length(key_id) = 32),
    signature  bytea       NOT NULL CHECK (length(signature) = 64),
    recorded_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE signed_checkpoints IS
    'sharehub: Ed25519-signed RFC 9162 Merkle roots of the event log (append-only)';

CREATE FUNCTION signed_checkpoints_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'sharehub: signed checkpoints are append-only; % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER signed_checkpoints_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON signed_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION signed_checkpoints_refuse_change();

REVOKE ALL ON signed_checkpoints FROM PUBLIC;
GRANT SELECT, INSERT ON signed_checkpoints TO sharehub_app;
