#!/usr/bin/env bash
# Starts Postgres, MariaDB and Redis on their loopback ports if they are not
# answering, then waits until they do. Used by .ci/run; safe to run locally.
set -uo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }
mysql_up() { mariadb-admin -h 127.0.0.1 -P 3306 -uroot --silent ping >/dev/null 2>&1 || mysqladmin -h 127.0.0.1 -P 3306 -uroot --silent ping >/dev/null 2>&1; }

start_pg() {
  local ver
  ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  [ -n "$ver" ] && pg_ctlcluster --skip-systemctl-redirect "$ver" main start
}
start_redis() {
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
}
start_mysql() {
  mkdir -p /run/mysqld 2>/dev/null && chown mysql:mysql /run/mysqld 2>/dev/null
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
}

status=0
for svc in pg redis mysql; do
  if ! "${svc}_up"; then
    echo "services: ${svc} not answering, starting it"
    "start_${svc}" || echo "services: could not start ${svc}"
    for _ in $(seq 1 60); do "${svc}_up" && break; sleep 0.5; done
  fi
  if "${svc}_up"; then echo "services: ${svc} up"; else echo "services: ${svc} DOWN"; status=1; fi
done
exit $status
