#!/usr/bin/env bash
# Start the local servers the production-path tests use, if they are down, and install PostGIS
# where it is missing. Idempotent; safe to run on every `make test`.
set -uo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then
    echo "services: installing PostGIS"
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15-postgis-3 >/dev/null
    else
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15-postgis-3 >/dev/null
    fi
fi

if ! pg_up; then
    echo "services: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_up && break; sleep 0.5; done
fi
if ! port_open 1883; then
    echo "services: starting Mosquitto"
    mosquitto -d -c /etc/mosquitto/mosquitto.conf || true
fi
if ! port_open 4222; then
    echo "services: starting NATS"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
        -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log || true
fi
pg_up || { echo "services: PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
exit 0
