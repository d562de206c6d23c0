#!/bin/sh
# Start PostgreSQL 17 the way RDS runs it, then stay in the foreground:
# - a TLS certificate for the names clients use (STANDIN_TLS_NAMES, comma separated; default
#   the container's host name), signed by the stand-in's own CA (kept in the data volume, as
#   RDS's CA outlives an instance); clients verify it with sslmode=verify-full;
# - the NOLOGIN group role rds_superuser (CREATEROLE, CREATEDB, never SUPERUSER). The master
#   user (a member of it, not a superuser) and the database are created by the stack's
#   stand-in play (roles/database_standin), as RDS's CreateDBInstance does.
set -eu
cluster=/var/lib/postgresql/17/main
tls=/var/lib/postgresql/tls
names=${STANDIN_TLS_NAMES:-$(hostname)}

if [ ! -f "$tls/server.crt" ]; then
  mkdir -p "$tls"
  cd "$tls"
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 -days 3650 \
    -keyout ca.key -out ca.crt -subj "/CN=mlflow-ansible RDS stand-in CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  san=$(echo "$names" | tr ',' '\n' | sed 's/^/DNS:/' | paste -sd, -)
  printf 'subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' "$san" > server.ext
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout server.key -out server.csr \
    -subj "/CN=${names%%,*}" 2>/dev/null
  openssl x509 -req -sha256 -days 825 -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
    -extfile server.ext -out server.crt 2>/dev/null
  rm -f server.csr server.ext ca.srl
  chown -R postgres:postgres "$tls"
  chmod 0600 ca.key server.key
  chmod 0644 ca.crt server.crt
fi

pg_ctlcluster 17 main start
# The group role RDS makes its master user a member of (RDS also grants it pg_monitor and
# pg_signal_backend); it is not a superuser.
su postgres -c "psql -q" <<'SQL'
SELECT 'CREATE ROLE rds_superuser NOLOGIN NOSUPERUSER CREATEROLE CREATEDB'
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_superuser') \gexec
GRANT pg_monitor, pg_signal_backend TO rds_superuser;
SQL
pg_ctlcluster 17 main stop
exec su postgres -c "exec /usr/lib/postgresql/17/bin/postgres -D $cluster -c config_file=/etc/postgresql/17/main/postgresql.conf"
