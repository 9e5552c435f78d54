#!/bin/sh
# Usage: sql/bench/insert_callgrind.sh DATADIR [BINDIR]
# Instructions per insert_event() statement, counted by valgrind
# (callgrind) in a single-user backend, so that other load on the machine
# does not matter.  DATADIR is a stopped cluster with databases bench_c
# (CREATE EXTENSION pgq) and bench_ours (sql/pgq.sql), each prepared with
# setup.sql; run as the cluster's owner.  Each statement is its own
# transaction, as in ins1.sql.  Per statement: (instructions of a run with
# N + 1 statements - a run with 1) / N.
DATA=$1; BIN=${2:-/usr/lib/postgresql/15/bin}; N=${N:-200}
dir=$(mktemp -d)
ir() {  # $1 database, $2 statements after the first
    f="$dir/$1_$2.sql"
    i=0
    while [ "$i" -le "$2" ]; do
        printf "select pgq.insert_event('bq', 'type', 'payload data for one event');\n\n" >> "$f"
        i=$((i + 1))
    done
    "$(dirname "$0")/callgrind_refs.sh" "$DATA" "$BIN" "$1" < "$f"
}
c=$(( ( $(ir bench_c "$N") - $(ir bench_c 0) ) / N ))
o=$(( ( $(ir bench_ours "$N") - $(ir bench_ours 0) ) / N ))
awk -v c="$c" -v o="$o" 'BEGIN { printf "insert_event, 1 event/statement: C %d instr   ours %d instr   ratio %.2f\n", c, o, o / c }'
rm -rf "$dir"
