#!/usr/bin/env bash
# Run a command with a throw-away PostgreSQL on loopback and IRONCELL_TEST_PG_URL pointing at it.
# Without Debian's PostgreSQL binaries the command runs without it (the PG tests then skip).
set -euo pipefail
if [ -n "${IRONCELL_TEST_PG_URL:-}" ]; then exec "$@"; fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  echo "with_pg: PostgreSQL not installed; PG tests will skip" >&2
  exec "$@"
fi
DIR=$(mktemp -d /tmp/ironcell-pg.XXXXXX)
PORT=${IRONCELL_TEST_PG_PORT:-55432}
RUNAS=()
if [ "$(id -u)" = 0 ]; then chown postgres "$DIR"; RUNAS=(runuser -u postgres --); fi
"${RUNAS[@]}" "$PGBIN/initdb" -D "$DIR/data" -U ironcell --auth=trust -E UTF8 >/dev/null
"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=on" start >/dev/null
cleanup() { "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true; rm -rf "$DIR"; }
trap cleanup EXIT
"${RUNAS[@]}" "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U ironcell ironcell_test
export IRONCELL_TEST_PG_URL="postgresql+psycopg://ironcell@127.0.0.1:$PORT/ironcell_test"
set +e
"$@"
rc=$?
exit $rc
