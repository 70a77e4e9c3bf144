-- Who owns what is chosen from outside: request ids, and API clients' names.
--
-- Neither table is part of the legal record (the events are); each only makes a
-- choice unique before anything is recorded, the way `idempotency_keys` does.
-- Rows are only ever inserted: a request id belongs to its agency for good, and a
-- name to its person, even once every key of theirs is revoked.

-- A request id belongs to the agency that raised it first, whichever door it came
-- through (HTTP, bus, CLI), so no agency can pre-claim another's next id.
CREATE TABLE request_id_owners (
    request_id   uuid        PRIMARY KEY,
    agency       text        NOT NULL CHECK (agency <> ''),
    claimed_at   timestamptz NOT NULL DEFAULT now()
);

-- One name, one person: `name_key` is the name with its whitespace collapsed and
-- lower-cased; every key of the person carries their person id.
CREATE TABLE api_client_names (
    name_key     text        PRIMARY KEY CHECK (name_key <> '' AND length(name_key) <= 200),
    person_id    uuid        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

REVOKE ALL ON request_id_owners, api_client_names FROM PUBLIC;
GRANT SELECT, INSERT ON request_id_owners, api_client_names TO sharehub_app;
