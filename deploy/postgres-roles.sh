#!/bin/sh
# sharehub's logins on the compose PostgreSQL, made once when its data folder is new
# (the postgres image runs /docker-entrypoint-initdb.d/* then): see docker-compose.yml.
#
#   sharehub_owner  owns database sharehub; only `sharehub db migrate` logs in as it
#   sharehub_app    every sharehub process: only what events/sql/*.sql GRANTs it
#   temporal        Temporal's own databases, apart from sharehub's
#
# None is a superuser or a member of another role; the superuser itself is refused over
# the network (the first line of pg_hba.conf) and is used by nothing at run time.
set -eu

psql --no-psqlrc -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    -v owner_password="$SHAREHUB_DB_OWNER_PASSWORD" \
    -v app_password="$SHAREHUB_DB_APP_PASSWORD" \
    -v temporal_password="$TEMPORAL_DB_PASSWORD" <<'SQL'
CREATE ROLE sharehub_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE sharehub_app LOGIN PASSWORD :'app_password';
CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'temporal_password';
CREATE DATABASE sharehub OWNER sharehub_owner;
SQL

# pg_hba.conf is read top down: refuse the superuser over TCP before any other rule.
sed -i "1i host all ${POSTGRES_USER:-postgres} all reject" "$PGDATA/pg_hba.conf"
