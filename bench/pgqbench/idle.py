"""Idle ticking cost: N databases x 10 idle queues, one daemon at a time.

One cluster per engine (our `sql/pgq.sql`, Debian's C extension). Each
cluster grows through the scales (50, then 200, then 1000 databases), each
database a copy of a template holding the engine and 10 queues that have
been idle for a while (see `IdleCluster`). Per window:

- the daemon is started with its default periods (ticker 1 s, retry 30 s,
  maint 120 s, check 60 s), waited for until it holds a connection to every
  database and its start-up maintenance has finished, then `WARMUP_S` more;
- then, for `window` seconds (default 120 s, a whole maint_period, so every
  periodic job of both daemons falls in it the same number of times):
  daemon CPU (/proc/PID/stat), server CPU of the whole postmaster tree
  (including exited backends, see procstat), the daemon's RSS and the number
  of client backends are recorded, and connections opened are counted from
  the server log (`log_connections = on`);
- afterwards every queue's ticks are read back to check that each tick due
  in the window (last tick + `ticker_idle_period`) came on time.

Server CPU caused by the daemon = server CPU in the window minus the same
cluster's CPU over a window of the same length with no daemon at all
(background processes). Autovacuum's naptime is one day on these clusters,
so autovacuum workers starting in 1000 databases do not drown the figure.
"""

import os
import threading
import time

from . import daemons, procstat
from .cluster import Cluster, quote_ident
from .engine import install_engine

QUEUES_PER_DB = 10
TEMPLATE = "pgq_tmpl"
# A tick may come this much after its due time and still count as on policy:
# one ticker_period plus half a second for the tick's own transaction.
LATENESS_SLACK = 0.5
# Seconds between the daemon settling and the window: long enough for every
# database's first ticks and the late-commit probes that follow them one
# ticker_max_lag (3 s) later. A session's first calls compile the engine's
# functions and load its catalog entries, a one-off start-up cost that a
# daemon keeping its sessions does not pay again (the C pgqd, reconnecting
# all the time, pays it in every window).
WARMUP_S = 15


def db_name(i):
    """Name of the i-th (1-based) idle database."""
    return f"idle_{i:04d}"


class IdleCluster:
    """A cluster of idle PgQ databases with one engine."""

    def __init__(self, engine, max_dbs, log):
        self.engine = engine
        self.log = log
        # The C pgqd opens up to three connections per database at once
        # (ticker, maint, retry) when it starts.
        self.cluster = Cluster(f"idle-{engine}", {
            "max_connections": str(3 * max_dbs + 100),
            "autovacuum_naptime": "'1d'",
            "log_connections": "on",
            # CREATE DATABASE copies the template through WAL; fewer
            # checkpoints while a thousand databases are made.
            "max_wal_size": "'8GB'",
            "checkpoint_timeout": "'30min'",
        })
        self.size = 0
        self.cluster.create_database(TEMPLATE)
        install_engine(self.cluster, TEMPLATE, engine)
        self.cluster.sql(TEMPLATE, "select count(pgq.create_queue('q_' || i)) from generate_series(1, %s) i",
                         (QUEUES_PER_DB,))
        # Long-idle queues, not fresh ones: a fresh queue's idle ticks come
        # at doubling gaps (half the max lag, then twice the previous gap up
        # to ticker_idle_period), so whichever daemon runs first on a cluster
        # would be measured ticking several times as often as in steady
        # state. Backdating the creation tick and ticking once more leaves a
        # previous gap longer than ticker_idle_period, the state of a queue
        # that has been idle for a while, in every copy of the template.
        self.cluster.sql(TEMPLATE, "update pgq.tick set tick_time = tick_time - interval '10 minutes'")
        self.cluster.sql(TEMPLATE, "select count(pgq.ticker(queue_name)) from pgq.queue")
        # Daemons skip templates; CREATE DATABASE ... TEMPLATE needs it idle.
        self.cluster.sql("postgres", f"alter database {quote_ident(TEMPLATE)} is_template true")

    def grow(self, n):
        """Adds databases until there are n, two CREATE DATABASE at a time
        (the copy is CPU-bound with fsync off)."""
        started = time.monotonic()
        names = [db_name(i) for i in range(self.size + 1, n + 1)]
        errors = []

        def create(chunk):
            try:
                conn = self.cluster.connect("postgres")
                with conn.cursor() as cur:
                    for name in chunk:
                        cur.execute(f"create database {quote_ident(name)} template {quote_ident(TEMPLATE)}")
                conn.close()
            except Exception as e:  # re-raised below
                errors.append(e)

        workers = [threading.Thread(target=create, args=(names[i::2],)) for i in range(2)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        if errors:
            raise RuntimeError(f"creating idle databases in cluster {self.cluster.name}: {errors[0]}")
        self.size = n
        # Write the copies out now, so the checkpoint does not land in a
        # baseline or a measured window.
        self.cluster.sql("postgres", "checkpoint")
        self.log(f"idle cluster {self.engine}: {n} databases ready ({time.monotonic() - started:.0f} s)")

    def close(self):
        """Removes the cluster."""
        self.cluster.close()


def _log_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _count_connections(path, start, end):
    with open(path, "rb") as f:
        f.seek(start)
        chunk = f.read(end - start)
    return chunk.count(b"connection authorized")


def baselines(ics, secs):
    """Server CPU per second of each cluster with no daemon running, all
    measured over the same interval."""
    pms = [ic.cluster.postmaster_pid() for ic in ics]
    s0 = [procstat.server_snapshot(pm)["cpu"] for pm in pms]
    t0 = time.monotonic()
    time.sleep(secs)
    s1 = [procstat.server_snapshot(pm)["cpu"] for pm in pms]
    elapsed = time.monotonic() - t0
    return [(b - a) / elapsed for a, b in zip(s0, s1)]


def window(ic, kind, n, secs, baseline_rate, workdir):
    """One measured window of daemon `kind` ("ours" or "c") on `ic`."""
    cl = ic.cluster
    pm = cl.postmaster_pid()
    d = daemons.Daemon(kind, cl, workdir, label=f"idle-{kind}-on-{ic.engine}-{n}")
    try:
        d.wait_connected(n, timeout=120 + n * 0.2)
        _wait_quiet(d, pm, timeout=120 + n * 0.1)
        time.sleep(WARMUP_S)
        d.check_alive()
        log0 = _log_size(cl.log_path)
        s0 = procstat.server_snapshot(pm)
        c0 = d.cpu()
        t0 = time.time()
        rss_max = 0
        clients = []
        while True:
            now = time.time()
            if now >= t0 + secs:
                break
            time.sleep(min(1.0, t0 + secs - now))
            d.check_alive()
            rss, _ = d.memory_kb()
            rss_max = max(rss_max, rss)
            clients.append(procstat.server_snapshot(pm)["clients"])
        c1 = d.cpu()
        s1 = procstat.server_snapshot(pm)
        t1 = time.time()
        log1 = _log_size(cl.log_path)
        _, hwm = d.memory_kb()
        backend_kb = procstat.client_backend_memory_kb(pm)
    finally:
        d.stop()
    elapsed = t1 - t0
    per_min = 60.0 / elapsed
    server = (s1["cpu"] - s0["cpu"]) - baseline_rate * elapsed
    lateness, due, late = tick_lateness(cl, n, t0, t1)
    return {
        "daemon": kind,
        "engine": ic.engine,
        "dbs": n,
        "window_s": elapsed,
        "daemon_cpu_s_per_min": (c1 - c0) * per_min,
        "server_cpu_s_per_min": server * per_min,
        "server_cpu_raw_s_per_min": (s1["cpu"] - s0["cpu"]) * per_min,
        "total_cpu_s_per_min": ((c1 - c0) + server) * per_min,
        "daemon_rss_mb": rss_max / 1024,
        "daemon_peak_rss_mb": hwm / 1024,
        "backend_memory_mb": backend_kb / 1024,
        "connections_max": max(clients) if clients else None,
        "connections_mean": sum(clients) / len(clients) if clients else None,
        "connections_opened_per_min": _count_connections(cl.log_path, log0, log1) * per_min,
        "ticks_due": due,
        "ticks_late": late,
        "max_tick_lateness_s": lateness,
    }


def _wait_quiet(d, pm, timeout):
    """Waits until the daemon's connection count has been steady for 3 s:
    the C pgqd opens maint and retry connections for every database at
    start, and both run their first maintenance round then."""
    deadline = time.monotonic() + timeout
    last = None
    steady = 0
    while steady < 6 and time.monotonic() < deadline:
        d.check_alive()
        count = procstat.server_snapshot(pm)["clients"]
        steady = steady + 1 if count == last else 0
        last = count
        time.sleep(0.5)


def tick_lateness(cl, n, t0, t1):
    """How late ticks due in [t0, t1] came: (max lateness in s, ticks due,
    ticks later than ticker_period + slack). An idle queue is due
    `queue_ticker_idle_period` after its last tick."""
    worst = 0.0
    due_count = 0
    late = 0
    slack = daemons.DEFAULT_PERIODS["ticker_period"] + LATENESS_SLACK
    for i in range(1, n + 1):
        rows = cl.sql(db_name(i), """
            select extract(epoch from q.queue_ticker_idle_period)::float8,
                   array_agg(extract(epoch from t.tick_time)::float8 order by t.tick_id)
              from pgq.queue q join pgq.tick t on t.tick_queue = q.queue_id
             group by q.queue_id, q.queue_ticker_idle_period""")
        for idle, ticks in rows:
            for a, b in zip(ticks, ticks[1:] + [None]):
                due = a + idle
                if not t0 <= due <= t1:
                    continue
                due_count += 1
                lateness = (b if b is not None else t1) - due
                worst = max(worst, lateness)
                if lateness > slack:
                    late += 1
    return worst, due_count, late
