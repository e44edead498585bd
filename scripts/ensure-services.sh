#!/usr/bin/env bash
# Makes sure the PostgreSQL and Redis the health tests use are up, starting them with the
# machine's documented commands when they are not; exits 1 when either stays unreachable.
# Meant for .ci/run (before `npm test`, which runs with CI set and then fails instead of
# skipping when a service is missing).
set -u

up_pg() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
up_redis() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

wait_for() {
  local name=$1 probe=$2
  for _ in $(seq 1 60); do
    if $probe; then echo "ensure-services: $name is up"; return 0; fi
    sleep 0.5
  done
  echo "ensure-services: $name is NOT reachable" >&2
  return 1
}

if ! up_pg; then
  echo "ensure-services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
if ! up_redis; then
  echo "ensure-services: starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi

status=0
wait_for PostgreSQL up_pg || status=1
wait_for Redis up_redis || status=1
command -v redis-server >/dev/null || { echo "ensure-services: redis-server binary missing (fault test)" >&2; status=1; }
exit $status
