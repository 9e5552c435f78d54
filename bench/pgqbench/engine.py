"""Engine workloads through pgbench: producer throughput, consumer read
throughput, idle `pgq.ticker()` cost and trigger overhead.

Each workload runs on our engine (`sql/pgq.sql`) and on Debian's C
extension, in two databases of the same cluster, alternating A/B within
every repetition (the order flips from one repetition to the next).
The workload scripts are the ones in `sql/bench/`.
"""

import os
import re
import subprocess

from . import cluster as pgcluster
from .report import figure, plural
from .stats import summary

SQL_BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                         "sql", "bench")

SIDES = (("ours", "bench_ours"), ("theirs", "bench_c"))
IDLE_SIDES = (("ours", "idle_ours"), ("theirs", "idle_c"))
# Transactions per idle-ticker run: pgbench opens a fresh session per run,
# and with a handful of transactions the first calls' function compilation
# and due ticks weighed more than the steady state a daemon's session sees.
TICKER_TRANSACTIONS = 25

TRIGGER_TABLE = """
create table {name} (
    id bigint generated always as identity primary key,
    c2 integer, c3 bigint, c4 text, c5 text, c6 timestamptz,
    c7 numeric, c8 boolean, c9 text, c10 integer)
"""

TRIGGER_INSERT = """insert into {name} (c2, c3, c4, c5, c6, c7, c8, c9, c10)
select i, i * 7, 'row ' || i, md5(i::text), now(), i * 1.5, i % 2 = 0, 'constant text', -i
from generate_series(1, {rows}) i;
"""


def pgbench(cl, db, script, clients=1, secs=None, transactions=None):
    """Runs pgbench and returns {"tps": ..., "latency_ms": ...}.

    A CHECKPOINT comes first, so that no run pays for the dirty buffers and
    WAL of the run before it: the bulk producer, which only our engine has,
    leaves hundreds of megabytes of both, and whichever side ran next used
    to write them out during its own timed seconds."""
    cl.sql(db, "checkpoint")
    cmd = [os.path.join(cl.bin, "pgbench"), "-h", cl.root, "-p", str(cl.port), "-U", "postgres", "-n",
           "-f", script, "-c", str(clients), "-j", str(min(clients, 2))]
    cmd += ["-T", str(secs)] if secs else ["-t", str(transactions)]
    cmd.append(db)
    out = subprocess.run(cmd, capture_output=True, text=True, env=pgcluster.client_env())
    if out.returncode != 0:
        raise RuntimeError(f"pgbench -f {os.path.basename(script)} on database {db} failed: "
                           f"{(out.stderr or out.stdout).strip()[-2000:]}")
    tps = re.search(r"^tps = ([0-9.]+)", out.stdout, re.M)
    lat = re.search(r"^latency average = ([0-9.]+) ms", out.stdout, re.M)
    done = re.search(r"number of transactions actually processed: (\d+)", out.stdout)
    if not tps:
        raise RuntimeError(f"pgbench on database {db}: no tps in its output:\n{out.stdout[-1000:]}")
    return {"tps": float(tps.group(1)), "latency_ms": float(lat.group(1)) if lat else None,
            "transactions": int(done.group(1)) if done else None}


def setup(cl, batch_events):
    """Creates bench_ours/bench_c (producer and consumer fixture) and
    idle_ours/idle_c (10 idle queues) with each engine."""
    for db, engine in (("bench_ours", "ours"), ("bench_c", "c"), ("idle_ours", "ours"), ("idle_c", "c")):
        cl.create_database(db)
        install_engine(cl, db, engine)
    for _, db in SIDES:
        conn = cl.connect(db)
        with conn.cursor() as cur:
            cur.execute("select pgq.create_queue('bq')")
            cur.execute("select pgq.create_queue('bbig')")
            cur.execute("select pgq.register_consumer('bbig', 'bc')")
            cur.execute("select count(pgq.insert_event('bbig', 'type', 'payload ' || i)) "
                        "from generate_series(1, %s) i", (batch_events,))
            cur.execute("select pgq.force_tick('bbig')")
            cur.execute("select pgq.ticker('bbig')")
            cur.execute("select pgq.next_batch('bbig', 'bc')")
            # as autovacuum leaves a production database: the plans of
            # both engines' queue lookups depend on pgq.queue's statistics
            cur.execute("analyze")
        conn.close()
    for _, db in IDLE_SIDES:
        cl.psql_file(db, os.path.join(SQL_BENCH, "setup_idle.sql"))
        cl.sql(db, "analyze")


def install_engine(cl, db, engine):
    """Our engine from sql/pgq.sql, or `create extension pgq` for "c"."""
    if engine == "ours":
        cl.psql_file(db, os.path.join(os.path.dirname(SQL_BENCH), "pgq.sql"))
    else:
        cl.sql(db, "create extension pgq")


def _alternate(rep, items):
    return list(items) if rep % 2 == 0 else list(reversed(items))


def producer_consumer(cl, which, reps, secs, batch_events, log):
    """Producer throughput, consumer read throughput and idle ticker() cost;
    `which` is the set of those to run ("producer", "consumer", "ticker").
    Returns the sections in that order (None for the ones not run)."""
    runs = {k: {"ours": [], "theirs": []} for k in ("ins1", "ins1000", "bulk", "batch", "ticker_idle")}
    for rep in range(reps):
        for side, db in _alternate(rep, SIDES):
            if "producer" in which:
                r = pgbench(cl, db, os.path.join(SQL_BENCH, "ins1.sql"), clients=4, secs=secs)
                runs["ins1"][side].append(r["tps"])
                r = pgbench(cl, db, os.path.join(SQL_BENCH, "ins1000.sql"), secs=secs)
                runs["ins1000"][side].append(r["tps"] * 1000)
                if side == "ours":
                    r = pgbench(cl, db, os.path.join(SQL_BENCH, "bulk1000.sql"), secs=secs)
                    runs["bulk"][side].append(r["tps"] * 1000)
            if "consumer" in which:
                r = pgbench(cl, db, os.path.join(SQL_BENCH, "batch100k.sql"), secs=secs)
                runs["batch"][side].append(r["tps"] * batch_events)
        if "ticker" in which:
            for side, db in _alternate(rep, IDLE_SIDES):
                r = pgbench(cl, db, os.path.join(SQL_BENCH, "ticker_idle.sql"), transactions=TICKER_TRANSACTIONS)
                # ticker_idle.sql makes 200 calls per transaction.
                runs["ticker_idle"][side].append(r["latency_ms"] / 200 * 1000)
        log(f"engine workloads: repetition {rep + 1}/{reps} done")
    s = {k: {side: summary(v) for side, v in sides.items()} for k, sides in runs.items()}
    producer = consumer = ticker = None
    if "producer" in which:
        producer = {
            "title": "Producer throughput",
            "description": (
                f"pgbench against one database per engine in the same cluster, no daemon running, "
                f"{secs} s per run, {plural(reps, 'repetition')} alternating ours/C (the order flips every "
                "repetition), each run after a CHECKPOINT. Scripts: `sql/bench/ins1.sql` (4 clients, 2 threads), "
                "`sql/bench/ins1000.sql` and `sql/bench/bulk1000.sql` (1 client). C is the pgq 3.5 "
                "extension. The bulk call has no counterpart in pgq 3.5; it is compared with the C "
                "extension's per-event rate at 1000 events per transaction."),
            "figures": [
                figure("producer.ins1", "`insert_event`, 1 event/tx, 4 clients", "tx/s", "higher",
                       s["ins1"]["ours"], s["ins1"]["theirs"], ("ratio", ">=", 1.0)),
                figure("producer.ins1000", "`insert_event`, 1000 events/tx, 1 client", "events/s", "higher",
                       s["ins1000"]["ours"], s["ins1000"]["theirs"], ("ratio", ">=", 1.0)),
                figure("producer.bulk", "`insert_event_bulk` of 1000 events vs C `insert_event` at 1000/tx",
                       "events/s", "higher", s["bulk"]["ours"], s["ins1000"]["theirs"], ("ratio", ">=", 3.0)),
            ],
        }
    if "consumer" in which:
        consumer = {
            "title": "Consumer read throughput",
            "description": (
                f"`sql/bench/batch100k.sql`: `pgq.get_batch_events()` over one open batch of "
                f"{batch_events} events, 1 client, {secs} s per run, {plural(reps, 'repetition')} alternating. "
                "C is the pgq 3.5 extension."),
            "figures": [
                figure("consumer.batch", f"`get_batch_events` over a {batch_events}-event batch", "events/s",
                       "higher", s["batch"]["ours"], s["batch"]["theirs"], ("ratio", ">=", 1.0)),
            ],
        }
    if "ticker" in which:
        ticker = {
            "title": "Engine: idle `pgq.ticker()`",
            "description": (
                "`sql/bench/ticker_idle.sql`: 200 `pgq.ticker()` calls in one transaction on a database "
                "with 10 idle queues (so nothing is ticked), "
                f"{TICKER_TRANSACTIONS} transactions per run, 1 client, "
                f"{plural(reps, 'repetition')} alternating. The figure is backend time per call, which is CPU "
                "since nothing waits. C is the pgq 3.5 extension."),
            "figures": [
                figure("engine.ticker_idle", "`pgq.ticker()`, 10 idle queues, time per call", "µs", "lower",
                       s["ticker_idle"]["ours"], s["ticker_idle"]["theirs"], ("ratio", "<=", 0.5)),
            ],
        }
    return producer, consumer, ticker


def triggers(cl, reps, secs, rows, workdir, log):
    """Per-row overhead of pgq.logutriga / pgq.sqltriga on a 10-column
    table, if our engine defines them."""
    have = {name for (name,) in cl.sql(
        "bench_ours", "select p.proname from pg_catalog.pg_proc p join pg_catalog.pg_namespace n "
                      "on n.oid = p.pronamespace where n.nspname = 'pgq' "
                      "and p.proname in ('logutriga', 'sqltriga')")}
    section = {
        "title": "Trigger overhead",
        "description": (
            f"Insert of {rows} rows per transaction into a 10-column table with an AFTER INSERT "
            f"row trigger, against the same table without trigger in the same database; "
            f"1 client, {secs} s per run, {plural(reps, 'repetition')} alternating. Overhead per row = "
            f"(time per transaction with trigger - without) / {rows}."),
        "figures": [],
    }
    if not have:
        section["skipped"] = "sql/pgq.sql does not define pgq.logutriga or pgq.sqltriga yet."
        return section
    triggers_run = [t for t in ("logutriga", "sqltriga") if t in have]
    os.makedirs(workdir, exist_ok=True)
    scripts = {}
    for table in ["trig_plain"] + [f"trig_{t}" for t in triggers_run]:
        path = os.path.join(workdir, f"{table}.sql")
        with open(path, "w") as f:
            f.write(TRIGGER_INSERT.format(name=table, rows=rows))
        scripts[table] = path
    for _, db in SIDES:
        conn = cl.connect(db)
        with conn.cursor() as cur:
            cur.execute("select pgq.create_queue('tq')")
            for table in scripts:
                cur.execute(TRIGGER_TABLE.format(name=table))
            for t in triggers_run:
                cur.execute(f"create trigger {pgcluster.quote_ident('trig_' + t)} after insert on "
                            f"{pgcluster.quote_ident('trig_' + t)} for each row execute function pgq.{t}('tq')")
        conn.close()
    overhead = {t: {"ours": [], "theirs": []} for t in triggers_run}
    for rep in range(reps):
        for side, db in _alternate(rep, SIDES):
            cl.sql(db, "truncate " + ", ".join(pgcluster.quote_ident(t) for t in scripts))
            plain = pgbench(cl, db, scripts["trig_plain"], secs=secs)["tps"]
            for t in triggers_run:
                tps = pgbench(cl, db, scripts[f"trig_{t}"], secs=secs)["tps"]
                overhead[t][side].append((1 / tps - 1 / plain) / rows * 1e6)
        log(f"triggers rep {rep + 1}/{reps}")
    for t in triggers_run:
        section["figures"].append(figure(f"triggers.{t}", f"`pgq.{t}` overhead per inserted row", "µs",
                                       "lower", summary(overhead[t]["ours"]),
                                       summary(overhead[t]["theirs"]), ("ratio", "<=", 1.5)))
    if len(triggers_run) < 2:
        section["note"] = "Only " + ", ".join(triggers_run) + " is defined in sql/pgq.sql."
    return section
