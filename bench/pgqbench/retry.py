"""Retry drain rate and rotation under load.

Retry drain: a consumer puts a whole batch of M events into the retry queue
(`pgq.batch_retry(batch, 0)`, so all are due at once); then the daemon is
started with `retry_period = 1s` and the time until the retry queue is empty
gives events per second. Both daemons drain by calling
`pgq.maint_retry_events()` until it returns 0.

Rotation under load: pgbench inserts one event per transaction (2 clients)
into a queue with `queue_rotation_period = 10s` while a consumer keeps up
and the daemon runs maintenance every 2 s. Recorded: producer throughput,
rotations completed (changes of `queue_switch_step1`), and that the
consumer received every event.
"""

import os
import threading
import time

from . import daemons
from .engine import pgbench

ROTATION_PERIOD = 10


def setup_retry(cl, db):
    """The retry queue `rq` with consumer `rc`."""
    cl.sql(db, "select pgq.create_queue('rq')")
    cl.sql(db, "select pgq.register_consumer('rq', 'rc')")


def setup_rotation(cl, db):
    """The rotation queue `rotq` with consumer `rotc`."""
    cl.sql(db, "select pgq.create_queue('rotq')")
    cl.sql(db, "select pgq.set_queue_config('rotq', 'rotation_period', %s)", (f"{ROTATION_PERIOD} seconds",))
    cl.sql(db, "select pgq.set_queue_config('rotq', 'ticker_max_lag', '1 second')")
    cl.sql(db, "select pgq.register_consumer('rotq', 'rotc')")


def _fill_retry(cl, db, events):
    conn = cl.connect(db)
    with conn.cursor() as cur:
        # Whatever an earlier run left behind goes first.
        cur.execute("select pgq.force_tick('rq')")
        cur.execute("select pgq.ticker('rq')")
        while True:
            cur.execute("select pgq.next_batch('rq', 'rc')")
            batch = cur.fetchone()[0]
            if batch is None:
                break
            cur.execute("select pgq.finish_batch(%s)", (batch,))
        cur.execute("select count(pgq.insert_event('rq', 'retry', 'payload ' || i)) "
                    "from generate_series(1, %s) i", (events,))
        cur.execute("select pgq.force_tick('rq')")
        cur.execute("select pgq.ticker('rq')")
        cur.execute("select pgq.next_batch('rq', 'rc')")
        batch = cur.fetchone()[0]
        if batch is None:
            raise RuntimeError(f"retry fixture on database {db}: no batch after force_tick")
        cur.execute("select pgq.batch_retry(%s, 0)", (batch,))
        cur.execute("select pgq.finish_batch(%s)", (batch,))
        cur.execute("select count(*) from pgq.retry_queue")
        queued = cur.fetchone()[0]
    conn.close()
    if queued < events:
        raise RuntimeError(f"retry fixture on database {db}: {queued} events in the retry queue, expected {events}")
    return queued


def retry_drain(cl, kind, db, events, workdir, timeout):
    """Events per second the daemon moves out of the retry queue."""
    queued = _fill_retry(cl, db, events)
    conn = cl.connect(db)
    d = daemons.Daemon(kind, cl, workdir, databases=[db], periods={"retry_period": 1.0},
                       label=f"retry-{kind}-{db}")
    start = time.time()
    first = None  # (time, events left) when the first move was seen
    try:
        with conn.cursor() as cur:
            while True:
                cur.execute("select count(*) from pgq.retry_queue")
                left = cur.fetchone()[0]
                now = time.time()
                if first is None and left < queued:
                    first = (now, left)
                if left == 0:
                    break
                d.check_alive()
                if now - start > timeout:
                    raise RuntimeError(f"{kind} pgqd left {left} of {queued} events in the retry queue "
                                       f"of database {db} after {timeout} s")
                time.sleep(0.05)
    finally:
        d.stop()
        conn.close()
    # The rate is taken from the first move seen to the empty queue, so the
    # daemon's start-up and the phase of its retry_period do not count.
    drain = now - first[0]
    return {"daemon": kind, "events": queued, "seconds_from_start": now - start,
            "seconds_draining": drain, "events_per_s": first[1] / drain if drain > 0 and first[1] else None}


class _Follower(threading.Thread):
    """A consumer that keeps up with the queue and counts what it gets."""

    def __init__(self, cl, db):
        super().__init__(daemon=True)
        self.conn = cl.connect(db)
        self.received = 0
        self.done = threading.Event()
        self.error = None

    def run(self):
        try:
            with self.conn.cursor() as cur:
                while True:
                    cur.execute("select pgq.next_batch('rotq', 'rotc')")
                    batch = cur.fetchone()[0]
                    if batch is None:
                        if self.done.is_set():
                            return
                        time.sleep(0.02)
                        continue
                    cur.execute("select count(*) from pgq.get_batch_events(%s)", (batch,))
                    self.received += cur.fetchone()[0]
                    cur.execute("select pgq.finish_batch(%s)", (batch,))
        except Exception as e:  # reported by the caller
            self.error = e
        finally:
            self.conn.close()


def rotation(cl, kind, db, secs, workdir):
    """Producer throughput and rotations while the daemon maintains `rotq`."""
    script = os.path.join(workdir, "rot_ins1.sql")
    os.makedirs(workdir, exist_ok=True)
    with open(script, "w") as f:
        f.write("select pgq.insert_event('rotq', 'type', 'payload data for one event');\n")
    d = daemons.Daemon(kind, cl, workdir, databases=[db], periods={"maint_period": 2.0},
                       label=f"rot-{kind}-{db}")
    try:
        d.wait_connected(1, timeout=30)
        time.sleep(2.5)
        follower = _Follower(cl, db)
        # Start counting from an empty queue: earlier events are drained first.
        follower.done.clear()
        switches = []
        stop = threading.Event()
        mon = threading.Thread(target=_watch_switches, args=(cl, db, switches, stop), daemon=True)
        base = _drain_count(cl, db)
        follower.start()
        mon.start()
        result = pgbench(cl, db, script, clients=2, secs=secs)
        produced = result["transactions"]
        deadline = time.time() + 30
        while follower.received < produced and time.time() < deadline and follower.error is None:
            time.sleep(0.1)
        follower.done.set()
        follower.join()
        stop.set()
        mon.join()
        d.check_alive()
    finally:
        d.stop()
    if follower.error:
        raise RuntimeError(f"rotation consumer on database {db}: {follower.error}")
    return {
        "daemon": kind,
        "producer_tps": result["tps"],
        "produced": produced,
        "received": follower.received,
        "lost": produced - follower.received,
        "leftover_before": base,
        "rotations": max(0, len(set(switches)) - 1),
        "rotations_expected": secs / ROTATION_PERIOD,
    }


def _drain_count(cl, db):
    conn = cl.connect(db)
    n = 0
    with conn.cursor() as cur:
        while True:
            cur.execute("select pgq.next_batch('rotq', 'rotc')")
            batch = cur.fetchone()[0]
            if batch is None:
                break
            cur.execute("select count(*) from pgq.get_batch_events(%s)", (batch,))
            n += cur.fetchone()[0]
            cur.execute("select pgq.finish_batch(%s)", (batch,))
    conn.close()
    return n


def _watch_switches(cl, db, switches, stop):
    conn = cl.connect(db)
    with conn.cursor() as cur:
        while not stop.is_set():
            cur.execute("select queue_switch_step1 from pgq.queue where queue_name = 'rotq'")
            switches.append(cur.fetchone()[0])
            stop.wait(0.25)
    conn.close()
