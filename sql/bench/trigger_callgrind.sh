#!/bin/sh
# Usage: sql/bench/trigger_callgrind.sh DATADIR [BINDIR]
# Instructions per row of each trigger kind, counted by valgrind
# (callgrind) in a single-user backend, so that other load on the machine
# does not matter.  DATADIR is a stopped cluster with databases trg_c and
# trg_ours prepared as for trigger_run.sh; run as the cluster's owner.  For
# each database and table: (instructions of a run with STMTS statements of
# ROWS rows) - (the same with none), less the same for the table without a
# trigger, divided by the rows.
DATA=$1; BIN=${2:-/usr/lib/postgresql/15/bin}; ROWS=${ROWS:-100}; STMTS=${STMTS:-5}
dir=$(mktemp -d)
ir() {  # $1 database, $2 table, $3 statements after the warm-up one
    f="$dir/$1_$2_$3.sql"
    i=0
    while [ "$i" -le "$3" ]; do
        printf "insert into %s (c1, c2, c3, c4, c5, c6, c7, c8, c9) select i, 'hello world', 'abc', now(), true, 12.5, 123456789, 'x&y', current_date from generate_series(1, %s) i;\n\n" "$2" "$ROWS" >> "$f"
        i=$((i + 1))
    done
    "$(dirname "$0")/callgrind_refs.sh" "$DATA" "$BIN" "$1" < "$f"
}
for db in trg_c trg_ours; do
    base=$(( $(ir "$db" trg_none "$STMTS") - $(ir "$db" trg_none 0) ))
    for t in trg_logu trg_sql trg_json; do
        echo "$db $t $(( ( $(ir "$db" "$t" "$STMTS") - $(ir "$db" "$t" 0) - base ) / (ROWS * STMTS) ))"
    done
done | awk '
    { n[$2 " " $1] = $3 }
    END {
        split("trg_logu trg_sql trg_json", ts, " ")
        for (i = 1; i <= 3; i++) {
            t = ts[i]
            printf "%-9s C %7d instr/row   ours %7d instr/row   ratio %.2f\n", t, n[t " trg_c"], n[t " trg_ours"], n[t " trg_ours"] / n[t " trg_c"]
        }
    }'
rm -rf "$dir"
