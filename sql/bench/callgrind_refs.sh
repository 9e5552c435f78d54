#!/bin/sh
# Usage: sql/bench/callgrind_refs.sh DATADIR BINDIR DB < SQL
# Runs SQL in a single-user backend on the stopped cluster DATADIR under
# valgrind (callgrind) and prints the instructions it executed, start-up
# included; the *_callgrind.sh scripts take differences of two such runs.
valgrind --tool=callgrind --callgrind-out-file=/dev/null "$2/postgres" --single -D "$1" -j -c fsync=off "$3" 2>&1 |
    sed -n 's/.*refs: *//p' | tr -d ','
