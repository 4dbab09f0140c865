#!/usr/bin/env bash
# Makes sure the services kunci's tests use are installed and running on loopback:
# PostgreSQL, MariaDB, Redis and memcached, and the Node peers of the browser tests. Safe to run again; starts only what is down, installs only what is
# missing (Debian packages). Prints the variables the tests read, for `eval "$(…)"`.
set -euo pipefail

log() { echo "services: $*" >&2; }

apt_install() {
  log "installing $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "$@" >&2
}

wait_for() { # description, command...
  local what=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  log "$what did not come up"; return 1
}

# Tools the tests drive: the shell example client signs with openssl and sends with curl; the
# browser tests run Debian's Chromium headless.
missing=()
for tool in curl openssl; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
# The forward-auth test runs the shipped nginx example for real.
[ -x /usr/sbin/nginx ] || missing+=(nginx)
if ((${#missing[@]})); then
  apt_install "${missing[@]}"
fi

# PostgreSQL
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  apt_install postgresql
fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  log "starting PostgreSQL"
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
  wait_for PostgreSQL pg_isready -h 127.0.0.1 -p 5432 -q
fi
if ! psql -h 127.0.0.1 -U postgres -d test -Atqc 'SELECT 1' >/dev/null 2>&1; then
  log "creating database test"
  su postgres -c "createdb test" >&2 2>/dev/null \
    || psql -h 127.0.0.1 -U postgres -Atqc 'CREATE DATABASE test' >&2
fi

# MariaDB (the MySQL backend's conformance suites and backups)
if ! command -v mariadbd >/dev/null 2>&1; then
  apt_install mariadb-server
fi
if ! mariadb-admin -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1; then
  log "starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd >&2
  wait_for MariaDB mariadb-admin -h 127.0.0.1 -P 3306 -u root ping
fi
mariadb -h 127.0.0.1 -P 3306 -u root -e 'CREATE DATABASE IF NOT EXISTS test' >&2

# Redis
if ! command -v redis-server >/dev/null 2>&1; then
  apt_install redis-server
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log >&2
  wait_for Redis redis-cli -h 127.0.0.1 -p 6379 ping
fi

# memcached
if ! command -v memcached >/dev/null 2>&1; then
  apt_install memcached
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/11211) 2>/dev/null; then
  log "starting memcached"
  memcached -d -u "$(id -un)" -l 127.0.0.1 -p 11211 -m 64 -P /tmp/kunci-memcached.pid >&2
  wait_for memcached bash -c 'exec 3<>/dev/tcp/127.0.0.1/11211'
fi

# The tests' Node peers (axe-core for the accessibility checks), from the committed lockfile.
peers="$(cd "$(dirname "$0")/.." && pwd)/crates/server/tests/peers"
if ! command -v npm >/dev/null 2>&1; then
  apt_install nodejs npm
fi
if [ ! -f "$peers/node_modules/.package-lock.json" ] \
  || [ "$peers/package-lock.json" -nt "$peers/node_modules/.package-lock.json" ]; then
  log "installing the tests' Node peers (npm ci)"
  (cd "$peers" && npm ci --no-audit --no-fund --loglevel=error) >&2
fi

echo "export KUNCI_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test"
echo "export KUNCI_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test"
echo "export KUNCI_TEST_REDIS_URL=redis://127.0.0.1:6379"
echo "export KUNCI_TEST_MEMCACHED_URL=memcache://127.0.0.1:11211"
