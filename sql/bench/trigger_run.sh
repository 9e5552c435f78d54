#!/bin/sh
# Usage: sql/bench/trigger_run.sh HOST PORT
# Per-row cost of logutriga, sqltriga and jsontriga on a 10-column table,
# plain SQL engine (database trg_ours) against the C extension (trg_c),
# both prepared with trigger_setup.sql.  Runs are interleaved: each round
# runs every script against both databases, ROUNDS rounds of TXNS
# transactions of ROWS rows.  Prints the median per-row overhead over the
# table without a trigger, and the ratio ours/C.
H=$1; PORT=$2; ROUNDS=${ROUNDS:-11}; TXNS=${TXNS:-200}; ROWS=${ROWS:-100}
cd "$(dirname "$0")"
lat() {  # average latency of one transaction, in microseconds
    pgbench -h "$H" -p "$PORT" -U postgres -n -f "trigger_$1.sql" -D rows="$ROWS" -t "$TXNS" "$2" 2>&1 |
        awk '/latency average/ {print $4 * 1000}'
}
out=$(mktemp)
for r in $(seq "$ROUNDS"); do
    for t in none logu sql json; do
        for db in trg_c trg_ours; do
            echo "$t $db $(lat $t $db)" >> "$out"
        done
    done
done
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
for db in trg_c trg_ours; do
    for t in none logu sql json; do
        echo "$t $db $(grep "^$t $db " "$out" | cut -d' ' -f3 | median)"
    done
done | awk -v rows="$ROWS" '
    { m[$1 " " $2] = $3 }
    END {
        for (i = 1; i <= 3; i++) {
            t = (i == 1) ? "logu" : (i == 2) ? "sql" : "json"
            c = (m[t " trg_c"] - m["none trg_c"]) / rows
            o = (m[t " trg_ours"] - m["none trg_ours"]) / rows
            printf "%-5s C %6.1f us/row   ours %6.1f us/row   ratio %.2f\n", t, c, o, o / c
        }
    }'
rm -f "$out"
