#!/bin/sh
# Usage: sql/bench/run.sh HOST PORT
# Runs each workload against bench_ours (plain-SQL engine) and bench_c
# (CREATE EXTENSION pgq), interleaved, ROUNDS rounds of SECS seconds each,
# and prints one tps figure per run.  Databases are prepared with setup.sql
# and setup_idle.sql (see sql/README.md).
H=$1; PORT=$2; ROUNDS=${ROUNDS:-5}; SECS=${SECS:-4}
cd "$(dirname "$0")"
tps() { pgbench -h "$H" -p "$PORT" -U postgres -n -f "$1" -T "$SECS" "$2" 2>&1 | awk '/^tps/ {print $3}'; }
for r in $(seq "$ROUNDS"); do
  for t in ins1 ins1000 batch100k; do
    echo "$t ours $(tps $t.sql bench_ours)"
    echo "$t c $(tps $t.sql bench_c)"
  done
  echo "bulk1000 ours $(tps bulk1000.sql bench_ours)"
  echo "ticker_idle ours $(pgbench -h "$H" -p "$PORT" -U postgres -n -f ticker_idle.sql -t 25 idle_ours 2>&1 | awk '/latency average/ {print $4}')"
  echo "ticker_idle c $(pgbench -h "$H" -p "$PORT" -U postgres -n -f ticker_idle.sql -t 25 idle_c 2>&1 | awk '/latency average/ {print $4}')"
done
