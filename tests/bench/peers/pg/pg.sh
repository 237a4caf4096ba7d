#!/usr/bin/env bash
# tests/bench/peers/pg/pg.sh - a throw-away PostgreSQL 15 (Debian's
# /usr/lib/postgresql/15/bin) in a directory of its own, for sr-peer-pg.
#
#   pg.sh start DIR [SYNC]  initdb DIR/data, start it listening on a Unix
#                           socket in DIR only (no TCP), load schema.sql;
#                           SYNC = on (default) | off sets
#                           synchronous_commit server-wide. Prints the
#                           libpq conninfo on stdout: host=DIR port=5432
#                           dbname=sr user=...
#   pg.sh stop DIR          fast shutdown (pg_ctl -m fast), then removes
#                           nothing: DIR/data and DIR/pg.log stay.
#   pg.sh psql DIR ARGS...  psql on it.
#
# Run as root (the test machines), initdb refuses: the server then runs as
# the `postgres` user (the Debian package creates it) and DIR is chowned
# to it. The settings are written to DIR/data/postgresql.auto.conf and
# listed in README.md ("Settings").
set -euo pipefail
bin=${SR_PG_BIN:-/usr/lib/postgresql/15/bin}
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || {
        echo "usage: pg.sh start DIR [on|off] | stop DIR | psql DIR ARGS..." >&2
        exit 64; }
[ -x "$bin/initdb" ] || {
        echo "pg.sh: no $bin/initdb: scripts/install-deps.sh installs postgresql-15" >&2
        exit 69; }

as=()
user=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
        as=(runuser -u postgres --)
        user=postgres
fi

case $cmd in
start)
        sync=${3:-on}
        case $sync in on|off) ;; *) echo "pg.sh: SYNC is on or off, got $sync" >&2; exit 64;; esac
        mkdir -p "$dir"
        dir=$(cd "$dir" && pwd)
        [ ${#as[@]} -eq 0 ] || chown postgres "$dir"
        "${as[@]}" "$bin/initdb" -D "$dir/data" -U "$user" -A trust \
                -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
                cat "$dir/initdb.log" >&2; exit 1; }
        # The settings of README.md "Settings": durability as stated by
        # SYNC (fsync and full_page_writes stay on: a crash loses nothing
        # committed with synchronous_commit=on), a WAL and checkpoint
        # budget for a write-heavy load, buffers for a working set that
        # fits in memory.
        cat >>"$dir/data/postgresql.auto.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
port = 5432
synchronous_commit = $sync
fsync = on
full_page_writes = on
wal_level = minimal
max_wal_senders = 0
wal_compression = on
wal_buffers = '16MB'
wal_writer_delay = '10ms'
commit_delay = 0
max_wal_size = '2GB'
checkpoint_timeout = '15min'
shared_buffers = '256MB'
work_mem = '16MB'
maintenance_work_mem = '64MB'
autovacuum_naptime = '5s'
jit = off
log_min_messages = warning
log_checkpoints = off
CONF
        "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/pg.log" -w -t 60 \
                start >"$dir/pg_ctl.log" 2>&1 || {
                cat "$dir/pg_ctl.log" "$dir/pg.log" >&2; exit 1; }
        "${as[@]}" "$bin/createdb" -h "$dir" -p 5432 -U "$user" sr
        "${as[@]}" "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p 5432 \
                -U "$user" -d sr -f "$here/schema.sql" >&2
        echo "host=$dir port=5432 dbname=sr user=$user"
        ;;
stop)
        dir=$(cd "$dir" && pwd)
        [ -f "$dir/data/postmaster.pid" ] || exit 0
        "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop \
                >/dev/null
        ;;
psql)
        dir=$(cd "$dir" && pwd)
        shift 2
        exec "$bin/psql" -X -h "$dir" -p 5432 -U "$user" -d sr "$@"
        ;;
*)
        echo "pg.sh: unknown command $cmd" >&2; exit 64;;
esac
