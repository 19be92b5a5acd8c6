#!/usr/bin/env bash
# Start the services the tests use when they are not already running:
#   Redis      127.0.0.1:6379 (broker, leases; the worker tests use database 11)
#   PostgreSQL 127.0.0.1:5432, role postgres without password from 127.0.0.1, database "test"
#   ffmpeg, rtsp-server-perl, chromium (Debian packages) for the live-stream and browser tests
# Installs them with apt-get (Debian/Ubuntu, as root) when absent. Idempotent: a running
# service is left alone, an existing database kept.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

apt_install() {
  if ! have apt-get; then
    echo "services: $* missing and no apt-get to install it" >&2
    return 1
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

wait_for() {  # wait_for SECONDS COMMAND...
  local n=$1; shift
  for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  return 1
}

ensure_redis() {
  if have redis-cli && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    echo "services: redis already running"; return
  fi
  have redis-server || apt_install redis-server redis-tools
  redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save "" --appendonly no
  wait_for 20 redis-cli -h 127.0.0.1 -p 6379 ping || { echo "services: redis did not start" >&2; exit 1; }
  echo "services: redis started"
}

ensure_postgres() {
  if have pg_isready && pg_isready -h 127.0.0.1 -p 5432 -q; then
    echo "services: postgresql already running"
  else
    have pg_ctlcluster || apt_install postgresql postgresql-client
    local version cluster_conf
    version=$(ls /etc/postgresql | sort -V | tail -1)
    cluster_conf=/etc/postgresql/$version/main
    # CI only: the tests connect as postgres from 127.0.0.1 without a password.
    if ! grep -q "^host all all 127.0.0.1/32 trust" "$cluster_conf/pg_hba.conf"; then
      sed -i '1i host all all 127.0.0.1/32 trust' "$cluster_conf/pg_hba.conf"
    fi
    pg_ctlcluster "$version" main start || service postgresql start
    wait_for 30 pg_isready -h 127.0.0.1 -p 5432 -q || { echo "services: postgresql did not start" >&2; exit 1; }
    echo "services: postgresql started"
  fi
  if ! psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1; then
    psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" >/dev/null
    echo "services: database test created"
  fi
}

# Programs the tests drive for real (they skip, naming the package, when absent): ffmpeg and
# rtsp-server-perl serve live camera streams, Chromium runs the web app's end-to-end tests.
ensure_tools() {
  local missing=()
  have ffmpeg || missing+=(ffmpeg)
  have rtsp-server-perl || missing+=(rtsp-server-perl)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${missing[@]}" || echo "services: could not install ${missing[*]}; their tests will skip" >&2
  fi
  echo "services: tools present: $(for t in ffmpeg rtsp-server-perl chromium; do have $t && printf '%s ' $t; done)"
}

ensure_redis
ensure_postgres
ensure_tools
