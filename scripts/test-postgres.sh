#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 for the test suite. If none does,
# installs Debian's PostgreSQL when missing and starts a throwaway cluster (trust auth) there.
set -euo pipefail
port=${GONGDAN_PG_PORT:-5432}
ready() { pg_isready -q -h 127.0.0.1 -p "$port" 2>/dev/null; }
if command -v pg_isready >/dev/null && ready; then
  echo "PostgreSQL is up on 127.0.0.1:$port"
  exit 0
fi
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "installing PostgreSQL from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq postgresql >/dev/null
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
data=${GONGDAN_PG_DATA:-/tmp/gongdan-test-pg}
rm -rf "$data"
mkdir -p "$data"
chown postgres:postgres "$data" 2>/dev/null || true
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
as_pg "$bin/initdb -D $data -U postgres -A trust -E UTF8 >/dev/null"
as_pg "$bin/pg_ctl -D $data -l $data/log -o '-p $port -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off' -w start >/dev/null"
as_pg "$bin/createdb -h 127.0.0.1 -p $port -U postgres test" || true
PATH="$bin:$PATH" ready && echo "started PostgreSQL on 127.0.0.1:$port (data in $data)"
