"""The two daemons under test: ours (`target/release/pgqd CONFIG.toml`)
and Debian's C pgqd 3.5 (`/usr/bin/pgqd pgqd.ini`).

Both are started with the same periods, logging to a file, and are killed by
the kernel if this process dies (PR_SET_PDEATHSIG), so an interrupted run
leaves no daemon behind.
"""

import ctypes
import os
import signal
import subprocess
import time

from . import procstat

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OURS_BIN = os.path.join(REPO, "target", "release", "pgqd")
C_BIN = "/usr/bin/pgqd"

# The periods both daemons run with unless a measurement overrides them:
# the C pgqd's defaults, which are also ours.
DEFAULT_PERIODS = {
    "ticker_period": 1.0,
    "maint_period": 120.0,
    "retry_period": 30.0,
    "check_period": 60.0,
}

_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def build_ours(profile):
    """cargo build [--release] -j 1: one job, since the machine may be shared
    and the benchmark should not compete with a parallel build."""
    argv = ["cargo", "build", "--locked", "-j", "1", "--bin", "pgqd"]
    if profile == "release":
        argv.append("--release")
    out = subprocess.run(argv, cwd=REPO, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"building our pgqd ({' '.join(argv)}) failed:\n{out.stderr[-3000:]}")


def versions():
    """Version lines of both daemons, for the record."""
    result = {}
    for key, argv in (("ours", [OURS_BIN, "--version"]), ("c", [C_BIN, "-V"])):
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            result[key] = (out.stdout or out.stderr).strip()
        except OSError as e:
            result[key] = f"unavailable: {e}"
    return result


def _secs(value):
    return f"{value:g}"


def _toml_duration(value):
    if value == int(value):
        return f"{int(value)}s"
    return f"{round(value * 1000)}ms"


class Daemon:
    """One running daemon. `kind` is "ours" or "c"."""

    def __init__(self, kind, cluster, workdir, periods=None, databases=None, label=None):
        self.kind = kind
        self.cluster = cluster
        self.label = label or kind
        p = dict(DEFAULT_PERIODS)
        p.update(periods or {})
        os.makedirs(workdir, exist_ok=True)
        self.log = os.path.join(workdir, f"{self.label}.log")
        if kind == "ours":
            self.config = os.path.join(workdir, f"{self.label}.toml")
            lines = [
                f'base_connstr = "{cluster.base_connstr()}"',
                'metrics_listen = ""',
                "syslog = false",
                f'logfile = "{self.log}"',
            ]
            lines += [f'{k} = "{_toml_duration(v)}"' for k, v in p.items()]
            if databases:
                lines.append("database_list = [" + ", ".join(f'"{d}"' for d in databases) + "]")
            argv = [OURS_BIN, self.config]
        elif kind == "c":
            self.config = os.path.join(workdir, f"{self.label}.ini")
            lines = [
                "[pgqd]",
                f"base_connstr = {cluster.base_connstr()}",
                f"logfile = {self.log}",
                "syslog = 0",
            ]
            lines += [f"{k} = {_secs(v)}" for k, v in p.items()]
            if databases:
                lines.append("database_list = " + ",".join(databases))
            argv = [C_BIN, "-q", self.config]
        else:
            raise ValueError(f"unknown daemon kind {kind}")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.started = time.time()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(self.log + ".stderr", "w"), preexec_fn=_die_with_parent)
        self.pid = self.proc.pid

    def check_alive(self):
        """Raises if the daemon has exited."""
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.label} pgqd exited with status {self.proc.returncode} "
                               f"on cluster {self.cluster.name}; log tail:\n{self.log_tail()}")

    def log_tail(self, lines=20):
        """The end of the daemon's log and stderr."""
        text = ""
        for path in (self.log, self.log + ".stderr"):
            try:
                with open(path, errors="replace") as f:
                    text += "".join(f.readlines()[-lines:])
            except OSError:
                pass
        return text

    def cpu(self):
        """CPU seconds the daemon has used so far."""
        return procstat.process_cpu(self.pid)

    def memory_kb(self):
        """(RSS, peak RSS) in kB."""
        return procstat.memory_kb(self.pid)

    def wait_connected(self, count, timeout):
        """Waits until the server has at least `count` client backends, which
        is how many ticker connections the daemon holds once every database
        is served."""
        deadline = time.monotonic() + timeout
        pm = self.cluster.postmaster_pid()
        while True:
            self.check_alive()
            if procstat.server_snapshot(pm)["clients"] >= count:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.label} pgqd did not connect to {count} databases of cluster "
                                   f"{self.cluster.name} within {timeout:.0f} s; log tail:\n{self.log_tail()}")
            time.sleep(0.2)

    def stop(self):
        """SIGINT (a graceful stop for both), then SIGKILL after 15 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
