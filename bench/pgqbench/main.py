"""`bench/run`: the command line, the plan, and the run.

A full run (no --quick, no --only) writes bench/results/<UTC stamp>.json and
regenerates BENCHMARKS.md from it. --quick is a smoke test with tiny sizes
and one repetition; it writes its JSON and markdown to a temporary directory
unless told otherwise, and fails only if the harness itself breaks.
"""

import argparse
import datetime
import os
import platform
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import time

from . import daemons, engine, idle, latency, report, retry
from .cluster import Cluster
from .report import figure, plural
from .stats import summary

REPO = daemons.REPO
SECTIONS = ("producer", "consumer", "ticker", "triggers", "latency", "retry", "rotation", "idle")

FULL = {
    # Nine: two runs minutes apart on a shared machine differed by up to
    # 0.25 in a ratio of medians of five.
    "reps": 9,
    "secs": 4,
    "batch_events": 100000,
    "trigger_rows": 1000,
    "idle_scales": [50, 200, 1000],
    "idle_window": 120,
    "idle_baseline": 20,
    "idle_reps": {50: 1, 200: 2, 1000: 1},
    "idle_cross_at": [200],
    "latency_secs": 15,
    "latency_reps": 1,
    "latency_drain_wait": 70,
    "latency_scenarios": [("default", 100), ("default", 1000), ("50ms", 100), ("50ms", 1000)],
    "retry_events": 20000,
    "retry_reps": 3,
    "rotation_secs": 30,
    "rotation_reps": 2,
}

QUICK = {
    "reps": 1,
    "secs": 1,
    "batch_events": 2000,
    "trigger_rows": 100,
    "idle_scales": [3],
    "idle_window": 4,
    "idle_baseline": 1,
    "idle_reps": {3: 1},
    "idle_cross_at": [],
    "latency_secs": 2,
    "latency_reps": 1,
    "latency_drain_wait": 3,
    "latency_scenarios": [("50ms", 100), ("50ms", 1000)],
    "retry_events": 2000,
    "retry_reps": 1,
    "rotation_secs": 3,
    "rotation_reps": 1,
}

STARTED = time.monotonic()
# 1-minute load averages seen at each progress line, to tell a quiet run
# from a disturbed one.
LOADS = []


def log(message):
    """A progress line on stderr with the elapsed time."""
    LOADS.append(os.getloadavg()[0])
    elapsed = time.monotonic() - STARTED
    print(f"[{int(elapsed // 60):3d}:{int(elapsed % 60):02d}] {message}", file=sys.stderr, flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench/run", description=(
        "Side-by-side benchmark of pgqd and sql/pgq.sql against the C pgqd 3.5 and the pgq 3.5 "
        "extension. Writes bench/results/<stamp>.json and regenerates BENCHMARKS.md."))
    p.add_argument("--quick", action="store_true",
                   help="smoke test: tiny sizes, one repetition, debug build, results in a temporary directory")
    p.add_argument("--only", nargs="+", choices=SECTIONS, metavar="NAME",
                   help="run only these measurements: " + ", ".join(SECTIONS))
    p.add_argument("--reps", type=int, help="repetitions of the engine workloads (default 9)")
    p.add_argument("--secs", type=int, help="seconds per pgbench run (default 4)")
    p.add_argument("--batch-events", type=int, help="events in the consumer's batch (default 100000)")
    p.add_argument("--idle-scales", help="comma-separated database counts (default 50,200,1000)")
    p.add_argument("--idle-window", type=float, help="seconds per idle window (default 120, one maint_period)")
    p.add_argument("--idle-reps", type=int, help="repetitions of each idle window at every scale "
                                                 "(default 2 at 200 databases, 1 elsewhere)")
    p.add_argument("--latency-secs", type=float, help="seconds of producing per latency run (default 15)")
    p.add_argument("--latency-reps", type=int, help="repetitions of each latency run (default 1)")
    p.add_argument("--retry-events", type=int, help="events in the retry queue (default 20000)")
    p.add_argument("--cross", action="store_true",
                   help="also run each daemon on the other engine (C pgqd on sql/pgq.sql, ours on the "
                        "C extension) in the idle, latency, retry and rotation measurements")
    p.add_argument("--profile", choices=("release", "debug"),
                   help="which build of our pgqd to use (default release; debug with --quick)")
    p.add_argument("--no-build", action="store_true", help="use the existing binary, do not run cargo build")
    p.add_argument("--out", help="directory for the result JSON (default bench/results)")
    p.add_argument("--markdown", help="write the markdown here (default BENCHMARKS.md for a full run)")
    p.add_argument("--no-markdown", action="store_true", help="do not write any markdown")
    p.add_argument("--report", metavar="JSON", help="only regenerate the markdown from this result file")
    p.add_argument("--note", action="append", default=[], help="a note printed under the header (repeatable)")
    p.add_argument("--keep-logs", action="store_true", help="keep daemon configs and logs")
    return p.parse_args(argv)


def plan_from(args):
    plan = dict(QUICK if args.quick else FULL)
    for key in ("reps", "secs", "batch_events", "idle_window", "latency_secs", "latency_reps", "retry_events"):
        value = getattr(args, key)
        if value is not None:
            plan[key] = value
    if args.idle_scales:
        plan["idle_scales"] = [int(x) for x in args.idle_scales.split(",") if x.strip()]
    if args.idle_reps is not None:
        plan["idle_reps"] = {n: args.idle_reps for n in plan["idle_scales"]}
    if args.cross:
        plan["idle_cross_at"] = list(plan["idle_scales"])
    plan["cross"] = args.cross
    plan["sections"] = list(args.only) if args.only else list(SECTIONS)
    return plan


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.report:
        target = args.markdown or os.path.join(REPO, "BENCHMARKS.md")
        report.write_markdown(args.report, target)
        print(target)
        return 0
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_on_signal)
    plan = plan_from(args)
    profile = args.profile or ("debug" if args.quick else "release")
    scratch = tempfile.mkdtemp(prefix="pgqd-bench-run-")
    ok = False
    try:
        if profile == "release":
            daemons.OURS_BIN = os.path.join(REPO, "target", "release", "pgqd")
        else:
            daemons.OURS_BIN = os.path.join(REPO, "target", "debug", "pgqd")
        if not args.no_build:
            log(f"building our pgqd ({profile})")
            daemons.build_ours(profile)
        result = run(plan, args, profile, scratch)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        full = not args.quick and not args.only
        if args.out:
            out_dir = args.out
        elif args.quick:
            out_dir = scratch
        else:
            out_dir = os.path.join(REPO, "bench", "results")
        markdown = None
        if not args.no_markdown:
            if args.markdown:
                markdown = args.markdown
            elif full:
                markdown = os.path.join(REPO, "BENCHMARKS.md")
            elif args.quick:
                # Render it anyway so the smoke test covers the report.
                markdown = os.path.join(scratch, "BENCHMARKS.md")
        path = report.write(result, out_dir, markdown, stamp)
        log(f"results: {path}" + (f", markdown: {markdown}" if markdown else ""))
        if args.quick:
            _summarise(result)
        ok = True
        return 0
    finally:
        if ok and not args.keep_logs:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            log(f"daemon configs and logs kept in {scratch}")


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)


def _summarise(result):
    for section in result["sections"].values():
        for fig in section.get("figures", []):
            log(f"  {fig['name']}: ours {report.fmt_summary(fig.get('ours'), fig['unit'])}, "
                f"C {report.fmt_summary(fig.get('theirs'), fig['unit'])}, ratio {report.fmt_ratio(fig)}")


def run(plan, args, profile, scratch):
    """Runs the planned measurements; returns the result dict."""
    started = datetime.datetime.now(datetime.timezone.utc)
    meta = {
        "command": "bench/run" + "".join(" " + shlex.quote(a) for a in sys.argv[1:]),
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": _machine(),
        "load_start": os.getloadavg()[0],
        "profile": profile,
        "daemons": daemons.versions(),
        "commit": _commit(),
        "plan": {k: (v if not isinstance(v, dict) else {str(kk): vv for kk, vv in v.items()})
                 for k, v in plan.items()},
        "notes": list(args.note),
        "settings": {},
    }
    sections = {}
    which = set(plan["sections"])
    work_needed = which - {"idle"}
    if work_needed:
        log("starting the work cluster")
        work = Cluster("work", {"max_connections": "100"})
        try:
            engine.setup(work, plan["batch_events"])
            meta["postgres"] = work.sql("postgres", "show server_version")[0][0]
            meta["engine_version"] = work.sql("bench_ours", "select pgq.engine_version()")[0][0]
            meta["c_extension_version"] = work.sql(
                "bench_c", "select extversion from pg_catalog.pg_extension where extname = 'pgq'")[0][0]
            meta["settings"]["work cluster"] = work.settings_report()
            eng = {"producer", "consumer", "ticker"} & which
            if eng:
                log(f"engine workloads: {', '.join(sorted(eng))}")
                prod, cons, tick = engine.producer_consumer(work, eng, plan["reps"], plan["secs"],
                                                            plan["batch_events"], log)
                for key, sec in (("producer", prod), ("consumer", cons), ("ticker", tick)):
                    if sec:
                        sections[key] = sec
            if "triggers" in which:
                log("trigger overhead")
                sections["triggers"] = engine.triggers(work, plan["reps"], plan["secs"], plan["trigger_rows"],
                                                       os.path.join(scratch, "triggers"), log)
            # The daemon measurements get fresh databases of their own: a
            # queue left with millions of events by the producer runs would
            # otherwise weigh on every tick of the database.
            if "latency" in which:
                pairs = _daemon_databases(work, "lat", plan["cross"])
                sections["latency"] = run_latency(work, plan, pairs, scratch)
            if "retry" in which:
                pairs = _daemon_databases(work, "retry", plan["cross"])
                for db in {p[2] for p in pairs}:
                    retry.setup_retry(work, db)
                sections["retry"] = run_retry(work, plan, pairs, scratch)
            if "rotation" in which:
                pairs = _daemon_databases(work, "rot", plan["cross"])
                for db in {p[2] for p in pairs}:
                    retry.setup_rotation(work, db)
                sections["rotation"] = run_rotation(work, plan, pairs, scratch)
        finally:
            work.close()
    if "idle" in which:
        sections["idle"] = run_idle(plan, scratch, meta)
    meta["load_end"] = os.getloadavg()[0]
    meta["load_max"] = max(LOADS + [meta["load_end"]])
    meta["load_mean"] = sum(LOADS) / len(LOADS) if LOADS else meta["load_end"]
    if meta["load_start"] > 0.5:
        meta["notes"].insert(0, (
            f"The machine was not quiet: the 1-minute load average on its {os.cpu_count()} cores was "
            f"{meta['load_start']:.1f} when the run started, from other work. During the run it "
            f"averaged {meta['load_mean']:.1f} (peak {meta['load_max']:.1f}), the benchmark's own "
            "load included. Throughput and latency figures are disturbed by other work; CPU-time "
            "figures less so."))
    meta["duration_min"] = (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds() / 60
    ordered = {k: sections[k] for k in SECTIONS if k in sections}
    return {"meta": meta, "sections": ordered}


def _daemon_databases(cl, prefix, cross):
    """Creates PREFIX_ours and PREFIX_c with each engine; returns the runs
    as (label, daemon kind, database, engine): ours on ours, C on C, and
    with `cross` each daemon on the other engine too."""
    for eng in ("ours", "c"):
        db = f"{prefix}_{eng}"
        cl.create_database(db)
        engine.install_engine(cl, db, eng)
    pairs = [("ours", "ours", f"{prefix}_ours", "ours"), ("theirs", "c", f"{prefix}_c", "c")]
    if cross:
        pairs += [("ours-on-C", "ours", f"{prefix}_c", "c"), ("C-on-ours", "c", f"{prefix}_ours", "ours")]
    return pairs


def _combo_label(kind, eng):
    daemon = "our pgqd" if kind == "ours" else "C pgqd"
    engine_name = "sql/pgq.sql" if eng == "ours" else "C extension"
    return f"{daemon} on {engine_name}"


def run_latency(cl, plan, pairs, scratch):
    scenarios = []
    for setting, rate in plan["latency_scenarios"]:
        config = {} if setting == "default" else {"ticker_max_lag": setting}
        scenarios.append({"setting": setting, "rate": rate, "queue": f"lat_{setting}_{rate}",
                          "queue_config": config,
                          # The original engine can strand an event until the idle period.
                          "drain_wait": plan["latency_drain_wait"]})
    for db in {p[2] for p in pairs}:
        latency.setup(cl, db, scenarios)
    runs = {}
    for sc in scenarios:
        for rep in range(plan["latency_reps"]):
            order = pairs if rep % 2 == 0 else list(reversed(pairs))
            for label, kind, db, eng in order:
                log(f"latency {sc['setting']} at {sc['rate']} events/s: {_combo_label(kind, eng)}")
                r = latency.run(cl, kind, db, sc, plan["latency_secs"], os.path.join(scratch, "latency"))
                r["engine"] = eng
                runs.setdefault((sc["queue"], label), []).append(r)
    figures = []
    rows = []
    for sc in scenarios:
        name = ("default queue settings" if sc["setting"] == "default"
                else f"`ticker_max_lag = {sc['setting']}`")
        stats = {}
        for label, kind, db, eng in pairs:
            rr = runs[(sc["queue"], label)]
            stats[label] = {k: summary([r[k] for r in rr]) for k in ("p50_ms", "p99_ms", "max_ms")}
            rows.append([name, sc["rate"], _combo_label(kind, eng), sum(r["sent"] for r in rr),
                         sum(r["missing"] for r in rr), _med(rr, "rate_achieved"), _med(rr, "p50_ms"),
                         _med(rr, "p99_ms"), max(r["max_ms"] or 0 for r in rr)])
        base = f"latency, {name}, {sc['rate']} events/s"
        g50 = g99 = gmax = None
        if sc["setting"] == "default":
            gmax = ("ours", "<=", 4000.0)
        elif sc["setting"] == "50ms" and sc["rate"] == 100:
            g50 = ("ours", "<=", 25.0)
            g99 = ("ours", "<=", 100.0)
        figures += [
            figure(f"latency.{sc['queue']}.p50", f"{base}: median", "ms", "lower",
                   stats["ours"]["p50_ms"], stats["theirs"]["p50_ms"], g50),
            figure(f"latency.{sc['queue']}.p99", f"{base}: p99", "ms", "lower",
                   stats["ours"]["p99_ms"], stats["theirs"]["p99_ms"], g99),
            figure(f"latency.{sc['queue']}.max", f"{base}: max", "ms", "lower",
                   stats["ours"]["max_ms"], stats["theirs"]["max_ms"], gmax, stat="max",
                   goal_text="ours ≤ ticker_max_lag + 1 s = 4 s, every event" if gmax else None),
        ]
    return {
        "title": "End-to-end latency",
        "description": (
            "From an event's insert (the time just before it, one event per transaction, at a steady "
            "rate) to the moment a consumer polling `pgq.next_batch()` every "
            f"{latency.POLL * 1000:.0f} ms gets the batch holding it. The first "
            f"{latency.WARMUP:g} s of each run are produced but not measured (steady state). The daemon serves only that "
            "database, a fresh one per engine holding nothing but the latency queues, with default "
            "periods (ticker_period 1 s). Default queue settings are "
            "ticker_max_lag 3 s, ticker_max_count 500, ticker_idle_period 60 s. "
            f"{plan['latency_secs']:g} s of measured producing per run, {plural(plan['latency_reps'], 'run')} per "
            "daemon and scenario; after the producer stops, the consumer waits up to "
            f"{plan['latency_drain_wait']:g} s for the rest, and an event still missing then counts "
            "with that wait as its latency. Ours is our pgqd on `sql/pgq.sql`, C is the C pgqd on "
            "the C extension. The C pgqd ticks every second whatever the queue settings."),
        "figures": figures,
        "tables": [{"title": "Every run (medians over runs; max is the largest of all):",
                    "columns": ["queue settings", "events/s", "daemon on engine", "events", "missing",
                                "rate achieved", "median ms", "p99 ms", "max ms"],
                    "rows": rows}],
        "runs": {f"{q}/{label}": rr for (q, label), rr in runs.items()},
    }


def _med(runs, key):
    s = summary([r[key] for r in runs])
    return s["median"] if s else None


def run_retry(cl, plan, pairs, scratch):
    runs = {}
    for rep in range(plan["retry_reps"]):
        order = pairs if rep % 2 == 0 else list(reversed(pairs))
        for label, kind, db, eng in order:
            log(f"retry drain of {plan['retry_events']} events: {_combo_label(kind, eng)}")
            r = retry.retry_drain(cl, kind, db, plan["retry_events"], os.path.join(scratch, "retry"),
                                  timeout=600)
            r["engine"] = eng
            runs.setdefault(label, []).append(r)
    rows = [[_combo_label(kind, eng), len(runs[label]), _med(runs[label], "seconds_from_start"),
             _med(runs[label], "seconds_draining"), _med(runs[label], "events_per_s")]
            for label, kind, db, eng in pairs]
    return {
        "title": "Retry drain",
        "description": (
            f"{plan['retry_events']} events put into the retry queue at once (`pgq.batch_retry(batch, 0)`), "
            "then the daemon is started with `retry_period = 1s` on that database alone (a fresh one "
            "per engine), and "
            "`pgq.retry_queue` is counted every 50 ms. The rate is the events left at the first "
            "count that shows a move, divided by the time from that count until the queue is empty, "
            "so the daemon's start-up and the phase of its retry period do not count. "
            f"{plural(plan['retry_reps'], 'repetition')} alternating. Ours is our pgqd on `sql/pgq.sql`, C is "
            "the C pgqd on the C extension."),
        "figures": [figure("retry.drain", "retry queue drained", "events/s", "higher",
                           summary([r["events_per_s"] for r in runs["ours"]]),
                           summary([r["events_per_s"] for r in runs["theirs"]]))],
        "tables": [{"columns": ["daemon on engine", "runs", "s from daemon start to empty", "s draining",
                                "events/s"], "rows": rows}],
        "runs": runs,
    }


def run_rotation(cl, plan, pairs, scratch):
    runs = {}
    for rep in range(plan["rotation_reps"]):
        order = pairs if rep % 2 == 0 else list(reversed(pairs))
        for label, kind, db, eng in order:
            log(f"rotation under load, {plan['rotation_secs']} s: {_combo_label(kind, eng)}")
            r = retry.rotation(cl, kind, db, plan["rotation_secs"], os.path.join(scratch, "rotation"))
            r["engine"] = eng
            runs.setdefault(label, []).append(r)
    rows = [[_combo_label(kind, eng), len(runs[label]), _med(runs[label], "producer_tps"),
             _med(runs[label], "rotations"), _med(runs[label], "rotations_expected"),
             sum(r["lost"] for r in runs[label])] for label, kind, db, eng in pairs]

    def s(label, key):
        return summary([r[key] for r in runs[label]])

    return {
        "title": "Rotation under load",
        "description": (
            f"pgbench inserts one event per transaction (2 clients) for {plan['rotation_secs']:g} s into a "
            "fresh database per engine, into a "
            f"queue with `rotation_period = {retry.ROTATION_PERIOD} seconds` and "
            "`ticker_max_lag = 1 second`, while a consumer keeps up and the daemon runs maintenance "
            "every 2 s (`maint_period = 2`). Rotations are counted from changes of "
            "`queue_switch_step1`; lost = produced - received after the consumer caught up. "
            f"{plural(plan['rotation_reps'], 'repetition')} alternating. Ours is our pgqd on `sql/pgq.sql`, C is "
            "the C pgqd on the C extension."),
        "figures": [
            figure("rotation.tps", "producer throughput while rotating", "tx/s", "higher",
                   s("ours", "producer_tps"), s("theirs", "producer_tps")),
            figure("rotation.count", "rotations completed", "", "higher",
                   s("ours", "rotations"), s("theirs", "rotations")),
            figure("rotation.lost", "events lost", "", "lower", s("ours", "lost"), s("theirs", "lost"),
                   ("ours", "<=", 0), stat="max", goal_text="none"),
        ],
        "tables": [{"columns": ["daemon on engine", "runs", "producer tx/s", "rotations", "expected", "lost"],
                    "rows": rows}],
        "runs": runs,
    }


IDLE_METRICS = ("daemon_cpu_s_per_min", "server_cpu_s_per_min", "total_cpu_s_per_min", "daemon_rss_mb",
                "backend_memory_mb", "connections_max", "connections_opened_per_min", "max_tick_lateness_s")


def run_idle(plan, scratch, meta):
    max_n = max(plan["idle_scales"])
    clusters = {}
    results = {}
    try:
        for eng in ("ours", "c"):
            log(f"idle: creating the cluster for the {'our' if eng == 'ours' else 'C'} engine")
            clusters[eng] = idle.IdleCluster(eng, max_n, log)
        meta["settings"]["idle clusters"] = clusters["ours"].cluster.settings_report()
        meta.setdefault("postgres", clusters["ours"].cluster.sql("postgres", "show server_version")[0][0])
        for n in plan["idle_scales"]:
            _grow_all(list(clusters.values()), n)
            combos = [("c", "c"), ("ours", "ours")]
            extra = [("c", "ours"), ("ours", "c")] if n in plan["idle_cross_at"] else []
            base = dict(zip(clusters, idle.baselines(list(clusters.values()), plan["idle_baseline"])))
            reps = plan["idle_reps"].get(n, 1)
            schedule = []
            for rep in range(reps):
                schedule += combos if rep % 2 == 0 else list(reversed(combos))
            schedule += extra
            for kind, eng in schedule:
                log(f"idle: {n} databases, {_combo_label(kind, eng)}, {plan['idle_window']:g} s window")
                r = idle.window(clusters[eng], kind, n, plan["idle_window"], base[eng],
                                os.path.join(scratch, "idle"))
                r["baseline_server_cpu_s_per_min"] = base[eng] * 60
                log(f"idle: daemon {r['daemon_cpu_s_per_min']:.2f} s/min, server "
                    f"{r['server_cpu_s_per_min']:.2f} s/min, RSS {r['daemon_rss_mb']:.1f} MB, "
                    f"late ticks {r['ticks_late']}/{r['ticks_due']}")
                results.setdefault((n, kind, eng), []).append(r)
    finally:
        for ic in clusters.values():
            ic.close()
    figures = []
    tables = []
    for n in plan["idle_scales"]:
        def s(kind, eng, key):
            return summary([r[key] for r in results.get((n, kind, eng), [])])

        goal_cost = ("ratio", "<=", 0.2) if n == 200 else None
        goal_rss = ("ratio", "<=", 1.0) if n == 200 else None
        q = idle.QUEUES_PER_DB
        figures += [
            figure(f"idle.{n}.cost", f"idle cost, {n} dbs × {q} queues: daemon + server CPU", "s/min", "lower",
                   s("ours", "ours", "total_cpu_s_per_min"), s("c", "c", "total_cpu_s_per_min"), goal_cost),
            figure(f"idle.{n}.daemon_cpu", f"idle, {n} dbs: daemon CPU", "s/min", "lower",
                   s("ours", "ours", "daemon_cpu_s_per_min"), s("c", "c", "daemon_cpu_s_per_min")),
            figure(f"idle.{n}.server_cpu", f"idle, {n} dbs: server CPU caused by the daemon", "s/min", "lower",
                   s("ours", "ours", "server_cpu_s_per_min"), s("c", "c", "server_cpu_s_per_min")),
            figure(f"idle.{n}.rss", f"idle, {n} dbs: daemon RSS", "MB", "lower",
                   s("ours", "ours", "daemon_rss_mb"), s("c", "c", "daemon_rss_mb"), goal_rss),
            figure(f"idle.{n}.backend_memory", f"idle, {n} dbs: private memory of the daemon's backends", "MB",
                   "lower", s("ours", "ours", "backend_memory_mb"), s("c", "c", "backend_memory_mb")),
            figure(f"idle.{n}.connections", f"idle, {n} dbs: server connections held (max)", "", "lower",
                   s("ours", "ours", "connections_max"), s("c", "c", "connections_max")),
            figure(f"idle.{n}.opened", f"idle, {n} dbs: connections opened", "/min", "lower",
                   s("ours", "ours", "connections_opened_per_min"), s("c", "c", "connections_opened_per_min")),
        ]
        if n == max(plan["idle_scales"]):
            slack = daemons.DEFAULT_PERIODS["ticker_period"] + idle.LATENESS_SLACK
            figures.append(figure(
                f"idle.{n}.lateness", f"idle, {n} dbs × {q} queues: latest tick after its due time", "s",
                "lower", s("ours", "ours", "max_tick_lateness_s"), s("c", "c", "max_tick_lateness_s"),
                ("ours", "<=", slack), stat="max",
                goal_text=f"every queue ticked on policy: ≤ ticker_period + {idle.LATENESS_SLACK:g} s"))
        rows = []
        for kind, eng in [("c", "c"), ("ours", "ours"), ("c", "ours"), ("ours", "c")]:
            rr = results.get((n, kind, eng))
            if not rr:
                continue
            rows.append([_combo_label(kind, eng), len(rr)] + [_med(rr, k) for k in IDLE_METRICS]
                        + [f"{sum(r['ticks_late'] for r in rr)}/{sum(r['ticks_due'] for r in rr)}"])
        tables.append({"title": f"{n} databases × {q} idle queues:",
                       "columns": ["daemon on engine", "windows", "daemon CPU s/min", "server CPU s/min",
                                   "total CPU s/min", "RSS MB", "backends' private MB",
                                   "connections held (max)",
                                   "connections opened/min", "max tick lateness s", "late/due ticks"],
                       "rows": rows})
    return {
        "title": "Idle ticking cost",
        "description": (
            f"N databases × {idle.QUEUES_PER_DB} idle queues, each database a copy of one template, one "
            "cluster per engine; the queues start long idle (their previous tick gap is longer than "
            "ticker_idle_period), so that no daemon is measured through the doubling gaps of fresh "
            "queues; one daemon at a time, both with their default periods (ticker 1 s, "
            "retry 30 s, maint 120 s, check 60 s). After the daemon holds a connection to every "
            f"database and its start-up maintenance is over, and {idle.WARMUP_S:g} s more (every "
            "database's first ticks and late-commit probes; a session's first calls compile the "
            "engine's functions), a window of "
            f"{plan['idle_window']:g} s is measured: daemon CPU (utime+stime of the process), server "
            "CPU of the whole postmaster tree (the postmaster's cutime+cstime covers exited backends, "
            "plus every live process) minus the same cluster's CPU with no daemon, the daemon's RSS "
            "(largest sample, 1 s apart), the private memory (RssAnon) of the client backends at "
            "the end of the window, client backends (largest sample) and connections opened "
            "(counted from the server log, `log_connections = on`). Figures are per minute. "
            "`autovacuum_naptime = 1d` keeps autovacuum workers from dominating the server figure. "
            "Tick lateness: for every tick due in the window (last tick + ticker_idle_period, 60 s), "
            "how long after its due time it came. Ours is our pgqd on `sql/pgq.sql`, C is the C pgqd "
            "on the C extension; the table also lists the daemons on the other engine where run."),
        "figures": figures,
        "tables": tables,
        "runs": {f"{n}/{kind}/{eng}": rr for (n, kind, eng), rr in results.items()},
    }


def _grow_all(idle_clusters, n):
    """Grows every idle cluster to n databases at once (the copies are
    CPU-bound; the clusters are independent)."""
    errors = []

    def grow(ic):
        try:
            ic.grow(n)
        except Exception as e:  # re-raised below
            errors.append(e)

    threads = [threading.Thread(target=grow, args=(ic,)) for ic in idle_clusters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def _machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) / 1024 / 1024
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem, "kernel": platform.release()}


def _commit():
    """The checked-out commit, read from .git without running git."""
    git = os.path.join(REPO, ".git")
    try:
        with open(os.path.join(git, "HEAD")) as f:
            head = f.read().strip()
        if not head.startswith("ref: "):
            return head[:12]
        ref = head[5:]
        path = os.path.join(git, ref)
        if os.path.exists(path):
            with open(path) as f:
                return f.read().strip()[:12]
        with open(os.path.join(git, "packed-refs")) as f:
            for line in f:
                if line.strip().endswith(" " + ref):
                    return line.split()[0][:12]
    except OSError:
        pass
    return None
