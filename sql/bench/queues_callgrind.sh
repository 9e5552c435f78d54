#!/bin/sh
# Usage: sql/bench/queues_callgrind.sh DATADIR N... [BINDIR in $BIN]
# Instructions per pgq.insert_event() call in databases with N queues,
# counted by valgrind (callgrind) in a single-user backend, so that other
# load on the machine does not matter.  DATADIR is a stopped cluster with,
# for each N, databases many<N>_ours (sql/pgq.sql) and many<N>_c (CREATE
# EXTENSION pgq), each prepared while the cluster ran with
#   select count(pgq.create_queue('q' || lpad(i::text, 4, '0'))) from generate_series(1, N) i;
#   vacuum analyze pgq.queue;
# (analyzed, as autovacuum leaves a production pgq.queue); run as the
# cluster's owner.  The events go to the last queue, q<N>, from a PL/pgSQL
# loop: (a loop of 2000 calls - a loop of none) / 2000.
DATA=$1; shift; BIN=${BIN:-/usr/lib/postgresql/15/bin}; CALLS=2000
dir=$(mktemp -d)
ir() {  # $1 database, $2 queue, $3 calls
    printf "do \$\$ declare v int8; begin for i in 1..%s loop v := pgq.insert_event('%s', 't', 'payload data for one event'); end loop; end \$\$;\n" "$3" "$2" > "$dir/loop.sql"
    "$(dirname "$0")/callgrind_refs.sh" "$DATA" "$BIN" "$1" < "$dir/loop.sql"
}
for n in "$@"; do
    q=$(printf 'q%04d' "$n")
    c=$(( ( $(ir "many${n}_c" "$q" "$CALLS") - $(ir "many${n}_c" "$q" 0) ) / CALLS ))
    o=$(( ( $(ir "many${n}_ours" "$q" "$CALLS") - $(ir "many${n}_ours" "$q" 0) ) / CALLS ))
    awk -v n="$n" -v c="$c" -v o="$o" 'BEGIN { printf "%4d queues: insert_event per call: C %d instr   ours %d instr   ratio %.2f\n", n, c, o, o / c }'
done
rm -rf "$dir"
