"""Throwaway PostgreSQL clusters for the benchmark.

Mirrors `src/tempcluster.rs`: `initdb` into a fresh temporary directory, a
Unix socket in that directory, a free loopback port. When running as root,
every server-side command runs as the `postgres` system user (initdb and
postgres refuse root).

The server is owned by a small shell *keeper* that reads orders from a pipe.
When the pipe closes (normal exit, an exception, Ctrl-C, or this process
being killed with SIGKILL) the keeper stops the server with an immediate
shutdown and deletes the directory, so nothing outlives the run.
"""

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

import psycopg2

# Orders: "start" answers "started PID"; "stop" answers "stopped". End of
# input stops the server and removes the directory.
KEEPER_SCRIPT = r"""
trap '' INT TERM HUP QUIT
root=$1
bin=$2
pid=""
while IFS= read -r order; do
    case "$order" in
        start)
            "$bin/postgres" -D "$root/data" >>"$root/postgres.log" 2>&1 &
            pid=$!
            echo "started $pid" ;;
        stop)
            if [ -n "$pid" ]; then kill -INT "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=""; fi
            echo stopped ;;
        *) echo "unknown order" ;;
    esac
done
if [ -n "$pid" ]; then kill -QUIT "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
rm -rf "$root"
"""

# Settings every benchmark cluster gets; callers add or override.
BASE_SETTINGS = {
    "fsync": "off",
    "full_page_writes": "off",
    "synchronous_commit": "on",
    "shared_buffers": "128MB",
    "max_connections": "200",
    "log_min_messages": "warning",
    "log_line_prefix": "'%m [%p] '",
    "timezone": "'UTC'",
}

SERVER_DEADLINE = 120.0

_live = []


def _cleanup_all():
    for cluster in list(_live):
        cluster.close()


atexit.register(_cleanup_all)


def bindir():
    """The PostgreSQL bin directory: $PGQD_PG_BINDIR or the newest
    /usr/lib/postgresql/*/bin that has initdb."""
    env = os.environ.get("PGQD_PG_BINDIR")
    if env:
        return env
    found = []
    for path in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        major = path.split("/")[4]
        if major.isdigit():
            found.append((int(major), os.path.dirname(path)))
    if not found:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin; set PGQD_PG_BINDIR")
    return max(found)[1]


def _run_as_owner():
    """The user to switch to for server commands, or None when not root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError("running as root, but there is no 'postgres' system user to run the server")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def quote_ident(name):
    """Quotes an SQL identifier for any input."""
    return '"' + name.replace('"', '""') + '"'


class Cluster:
    """A running throwaway cluster; `close()` (or process exit) removes it."""

    def __init__(self, name, settings=None):
        self.name = name
        self.bin = bindir()
        self.owner = _run_as_owner()
        self.settings = dict(BASE_SETTINGS)
        self.settings.update(settings or {})
        self.root = tempfile.mkdtemp(prefix=f"pgqd-bench-{name}-")
        if self.owner:
            os.chown(self.root, self.owner.pw_uid, self.owner.pw_gid)
        self.keeper = subprocess.Popen(
            self._server_cmd(["sh", "-c", KEEPER_SCRIPT, "pgqd-bench-keeper", self.root, self.bin]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            # Its own session: a Ctrl-C on the terminal must not reach the
            # server before the keeper has been told to clean up.
            start_new_session=True,
        )
        _live.append(self)
        self.port = None
        try:
            self._initdb()
            self._start_on_free_port()
        except BaseException:
            self.close()
            raise

    def _server_cmd(self, argv):
        if self.owner:
            return ["runuser", "-u", self.owner.pw_name, "--"] + argv
        return argv

    def _initdb(self):
        data = os.path.join(self.root, "data")
        out = subprocess.run(
            self._server_cmd([os.path.join(self.bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
                              "-E", "UTF8", "--locale=C", "--no-sync"]),
            capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"initdb for benchmark cluster {self.name} failed: {out.stderr.strip()}")
        conf = ["", "# benchmark cluster", "include_if_exists = 'bench_port.conf'"]
        conf += [f"{k} = {v}" for k, v in self.settings.items()]
        conf += [f"unix_socket_directories = '{self.root}'", "listen_addresses = ''"]
        with open(os.path.join(data, "postgresql.conf"), "a") as f:
            f.write("\n".join(conf) + "\n")

    def _start_on_free_port(self):
        last = None
        for _ in range(5):
            self.port = _free_port()
            path = os.path.join(self.root, "data", "bench_port.conf")
            with open(path, "w") as f:
                f.write(f"port = {self.port}\n")
            if self.owner:
                os.chown(path, self.owner.pw_uid, self.owner.pw_gid)
            try:
                self.start_server()
                return
            except RuntimeError as e:
                if "could not bind" not in str(e) and "already in use" not in str(e):
                    raise
                last = e
        raise last

    def _ask(self, order):
        self.keeper.stdin.write(order + "\n")
        self.keeper.stdin.flush()
        reply = self.keeper.stdout.readline().strip()
        if not reply:
            raise RuntimeError(f"cluster {self.name}: the keeper exited while handling '{order}'")
        return reply

    def _log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    @property
    def log_path(self):
        """The server's log file (stderr of postgres)."""
        return os.path.join(self.root, "postgres.log")

    def start_server(self):
        """Starts postgres and waits until it accepts connections."""
        offset = self._log_size()
        reply = self._ask("start")
        if not reply.startswith("started "):
            raise RuntimeError(f"cluster {self.name}: keeper refused to start: {reply}")
        pid = int(reply.split()[1])
        pidfile = os.path.join(self.root, "data", "postmaster.pid")
        deadline = time.monotonic() + SERVER_DEADLINE
        while True:
            try:
                with open(pidfile) as f:
                    lines = f.read().splitlines()
                if len(lines) >= 8 and lines[0].strip() == str(pid) and lines[7].strip() == "ready":
                    return
            except OSError:
                pass
            if not os.path.exists(f"/proc/{pid}") or time.monotonic() > deadline:
                self._ask("stop")
                with open(self.log_path, errors="replace") as f:
                    f.seek(offset)
                    raise RuntimeError(f"starting the server of cluster {self.name} failed:\n{f.read()[-3000:]}")
            time.sleep(0.02)

    def stop_server(self):
        """Fast shutdown; the cluster stays on disk."""
        self._ask("stop")

    def restart(self):
        """Fast shutdown and start, e.g. after changing settings."""
        self.stop_server()
        self.start_server()

    def close(self):
        """Stops the server and deletes the cluster."""
        if self in _live:
            _live.remove(self)
        if self.keeper.poll() is None:
            try:
                self.keeper.stdin.close()
            except OSError:
                pass
            try:
                self.keeper.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.keeper.kill()
        if os.path.isdir(self.root):
            shutil.rmtree(self.root, ignore_errors=True)

    def postmaster_pid(self):
        """The postmaster's pid from postmaster.pid."""
        with open(os.path.join(self.root, "data", "postmaster.pid")) as f:
            return int(f.readline().strip())

    def conninfo(self, db):
        """A libpq key/value string for database `db`."""
        return f"host={self.root} port={self.port} user=postgres dbname={db}"

    def base_connstr(self):
        """The connection string without dbname, as both daemons take it."""
        return f"host={self.root} port={self.port} user=postgres"

    def connect(self, db, autocommit=True):
        """A psycopg2 connection to `db`."""
        conn = psycopg2.connect(host=self.root, port=self.port, user="postgres", dbname=db,
                                application_name="pgqd-bench")
        conn.autocommit = autocommit
        return conn

    def sql(self, db, query, args=None):
        """Runs one statement on a fresh connection; returns all rows or None."""
        conn = self.connect(db)
        try:
            with conn.cursor() as cur:
                cur.execute(query, args)
                return cur.fetchall() if cur.description else None
        except psycopg2.Error as e:
            raise RuntimeError(f"on database {db} of cluster {self.name}: {query[:200]}: {e}") from e
        finally:
            conn.close()

    def psql_file(self, db, path, variables=None):
        """Runs a SQL file with psql, stopping at the first error."""
        cmd = [os.path.join(self.bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.root,
               "-p", str(self.port), "-U", "postgres", "-d", db, "-f", path]
        for k, v in (variables or {}).items():
            cmd += ["-v", f"{k}={v}"]
        out = subprocess.run(cmd, capture_output=True, text=True, env=_client_env())
        if out.returncode != 0:
            raise RuntimeError(f"psql -f {path} on database {db} of cluster {self.name} failed: {out.stderr.strip()}")
        return out.stdout

    def create_database(self, db, template=None):
        """CREATE DATABASE, optionally as a copy of `template`."""
        q = f"create database {quote_ident(db)}"
        if template:
            q += f" template {quote_ident(template)}"
        self.sql("postgres", q)

    def settings_report(self):
        """The settings this cluster was started with (postgresql.conf),
        leaving out locale and formatting ones that initdb writes."""
        rows = self.sql("postgres", """
            select name, current_setting(name) from pg_catalog.pg_settings
             where source = 'configuration file'
               and name not like 'lc\\_%'
               and name not in ('port', 'unix_socket_directories', 'listen_addresses', 'DateStyle',
                                'TimeZone', 'log_timezone', 'default_text_search_config',
                                'dynamic_shared_memory_type')
             order by name""")
        return dict(rows)


def _client_env():
    env = dict(os.environ)
    # Keep the caller's PG* variables out of the benchmark.
    for var in ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD", "PGSERVICE", "PGOPTIONS"):
        env.pop(var, None)
    return env


def client_env():
    """The environment for client tools (psql, pgbench): no PG* overrides."""
    return _client_env()
