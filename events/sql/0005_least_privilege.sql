-- Least privilege: the application logs in as `sharehub_app` itself.
--
-- Three logins, each with one purpose:
--   the superuser   creates the two below and the database; nothing runs as it
--   the owner       owns every object here; only migrations log in as it
--                   (`sharehub_owner` in the local stack and in docker-compose.yml)
--   sharehub_app    every sharehub process: exactly the GRANTs of these migrations
--
-- Roles are cluster-wide and carry passwords, so whoever administers the server creates
-- them (workers/stack/embedded.py for the local stack, deploy/postgres-roles.sh for
-- compose), not a migration. What a migration can do is keep PostgreSQL's defaults from
-- adding to those GRANTs, and refuse to go on when the application role could climb out
-- of them.
--
-- A table added by a later migration is reachable by sharehub_app only through a GRANT
-- in that migration: PostgreSQL grants nothing on a new table to PUBLIC, and no default
-- privileges name sharehub_app. Functions are another matter: PUBLIC may execute every
-- new one, so that default is revoked here, and a function the application calls needs
-- its own GRANT EXECUTE (trigger functions need none: a trigger fires without it).

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- sharehub_app may add and read; only the owner (and the superuser) may alter a table,
-- disable its triggers, update, delete or truncate. That holds only while sharehub_app
-- can become nobody else: a member of another role may SET ROLE to it, and RESET ROLE
-- returns to the login, so the login itself must hold no more than sharehub_app.
DO $$
DECLARE
    app CONSTANT oid := 'sharehub_app'::regrole;
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE oid = app
               AND (rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls)) THEN
        RAISE EXCEPTION 'sharehub: the role sharehub_app has more than its grants'
            USING HINT = 'ALTER ROLE sharehub_app NOSUPERUSER NOCREATEROLE NOCREATEDB'
                         ' NOREPLICATION NOBYPASSRLS';
    END IF;
    IF EXISTS (SELECT FROM pg_auth_members WHERE member = app) THEN
        RAISE EXCEPTION 'sharehub: the role sharehub_app is a member of another role, '
                        'which it could SET ROLE to'
            USING HINT = 'REVOKE each role FROM sharehub_app (see \du sharehub_app in psql)';
    END IF;
END
$$;
