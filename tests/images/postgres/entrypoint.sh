#!/bin/sh
# Start PostgreSQL, create the master user and database like RDS does
# (STANDIN_DB_USER, STANDIN_DB_NAME, password from STANDIN_DB_PASSWORD_FILE or
# STANDIN_DB_PASSWORD), then stay in the foreground.
set -eu
: "${STANDIN_DB_USER:=mlflow}" "${STANDIN_DB_NAME:=mlflow}"
if [ -n "${STANDIN_DB_PASSWORD_FILE:-}" ]; then STANDIN_DB_PASSWORD=$(cat "$STANDIN_DB_PASSWORD_FILE"); fi
: "${STANDIN_DB_PASSWORD:?set STANDIN_DB_PASSWORD or STANDIN_DB_PASSWORD_FILE}"
pg_ctlcluster 15 main start
if ! su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='$STANDIN_DB_USER'\"" | grep -q 1; then
  # The password goes through stdin, never the command line.
  printf "CREATE ROLE \"%s\" LOGIN CREATEROLE PASSWORD '%s';\nCREATE DATABASE \"%s\" OWNER \"%s\";\n" \
    "$STANDIN_DB_USER" "$STANDIN_DB_PASSWORD" "$STANDIN_DB_NAME" "$STANDIN_DB_USER" | su postgres -c "psql -q"
fi
pg_ctlcluster 15 main stop
exec su postgres -c "exec /usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main -c config_file=/etc/postgresql/15/main/postgresql.conf"
