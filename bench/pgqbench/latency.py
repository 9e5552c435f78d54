"""End-to-end latency: from an event's insert to the moment a consumer's
`pgq.next_batch()` returns the batch holding it.

The producer inserts one event per transaction at a steady rate, each
event carrying the time just before its insert; the first WARMUP seconds
are produced but not measured. A consumer thread polls
`pgq.next_batch()` every `POLL` seconds; when a batch arrives it notes the
time, reads the events and records now - insert time for each. The daemon
under test ticks the queue with its default periods (ticker_period 1 s),
serving only the one database. Server and clients share one clock.
"""

import threading
import time

from . import daemons
from .stats import percentile

POLL = 0.005
WARMUP = 2.0


class _Consumer(threading.Thread):
    def __init__(self, cl, db, queue, consumer):
        super().__init__(daemon=True)
        self.conn = cl.connect(db)
        self.queue = queue
        self.consumer = consumer
        self.latencies = []
        self.stop_when = None  # (expected count, deadline)
        self.error = None
        # Events inserted before this (a previous run's stragglers, the
        # warm-up) are not measured.
        self.since = time.time()

    def run(self):
        try:
            with self.conn.cursor() as cur:
                while True:
                    cur.execute("select pgq.next_batch(%s, %s)", (self.queue, self.consumer))
                    batch = cur.fetchone()[0]
                    if batch is None:
                        if self.stop_when and (len(self.latencies) >= self.stop_when[0]
                                               or time.time() > self.stop_when[1]):
                            return
                        time.sleep(POLL)
                        continue
                    seen = time.time()
                    cur.execute("select ev_data from pgq.get_batch_events(%s)", (batch,))
                    self.latencies += [seen - float(data) for (data,) in cur.fetchall()
                                       if float(data) >= self.since]
                    cur.execute("select pgq.finish_batch(%s)", (batch,))
        except Exception as e:  # reported by the caller
            self.error = e
        finally:
            self.conn.close()


def drain(cl, db, queue, consumer):
    """Finishes every batch already available, so a run starts clean."""
    conn = cl.connect(db)
    with conn.cursor() as cur:
        while True:
            cur.execute("select pgq.next_batch(%s, %s)", (queue, consumer))
            batch = cur.fetchone()[0]
            if batch is None:
                break
            cur.execute("select pgq.finish_batch(%s)", (batch,))
    conn.close()


def produce(cl, db, queue, rate, secs, since):
    """Inserts `rate` events per second for `secs` seconds, one per
    transaction, each carrying the time just before its insert. Returns
    how many it inserted from `since` on, and over how long."""
    conn = cl.connect(db)
    sent = 0
    counted = 0
    start = time.time()
    with conn.cursor() as cur:
        while True:
            target = start + sent / rate
            now = time.time()
            if target >= start + secs:
                break
            if target > now:
                time.sleep(target - now)
            stamp = time.time()
            cur.execute("select pgq.insert_event(%s, 'lat', %s)", (queue, f"{stamp:.6f}"))
            sent += 1
            if stamp >= since:
                counted += 1
    conn.close()
    return counted, time.time() - since


def setup(cl, db, scenarios):
    """One queue and consumer per scenario, with its queue settings."""
    for sc in scenarios:
        cl.sql(db, "select pgq.create_queue(%s)", (sc["queue"],))
        for key, value in sc["queue_config"].items():
            cl.sql(db, "select pgq.set_queue_config(%s, %s, %s)", (sc["queue"], key, value))
        cl.sql(db, "select pgq.register_consumer(%s, 'latc')", (sc["queue"],))


def run(cl, kind, db, sc, secs, workdir):
    """One latency run of daemon `kind` on database `db` for scenario `sc`."""
    d = daemons.Daemon(kind, cl, workdir, databases=[db], label=f"lat-{kind}-{db}-{sc['queue']}")
    try:
        d.wait_connected(1, timeout=30)
        # Let the daemon tick once so leftover events from earlier runs
        # are in a batch that drain() can finish.
        time.sleep(2.5)
        drain(cl, db, sc["queue"], "latc")
        consumer = _Consumer(cl, db, sc["queue"], "latc")
        # The first WARMUP seconds are produced but not measured: a queue
        # going from idle to busy is not the steady state at this rate.
        consumer.since = time.time() + WARMUP
        consumer.start()
        sent, elapsed = produce(cl, db, sc["queue"], sc["rate"], secs + WARMUP, consumer.since)
        # After the producer stops, wait for every event, but no longer than
        # the queue's idle period plus a margin: that is where the original
        # engine's stranded events end up.
        consumer.stop_when = (sent, time.time() + sc["drain_wait"])
        consumer.join()
        d.check_alive()
    finally:
        d.stop()
    if consumer.error:
        raise RuntimeError(f"latency consumer on database {db}, queue {sc['queue']}: {consumer.error}")
    lat = consumer.latencies
    missing = max(0, sent - len(lat))
    return {
        "daemon": kind,
        "db": db,
        "sent": sent,
        "received": len(lat),
        "missing": missing,
        "rate_achieved": sent / elapsed,
        "p50_ms": percentile(lat, 50) * 1000 if lat else None,
        "p99_ms": percentile(lat, 99) * 1000 if lat else None,
        # An event never delivered counts as at least the wait it outlived.
        "max_ms": (max(lat + ([sc["drain_wait"]] if missing else [])) * 1000) if lat else None,
    }
