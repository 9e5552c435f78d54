"""CPU time and memory of processes, read from /proc.

Server CPU is measured for the whole postmaster process tree: the
postmaster's own time, the cumulative time of its exited (reaped) children
(`cutime + cstime`, which is where short-lived backends end up), and the time
of every child alive at the moment of reading. The difference of two
readings is the server CPU spent between them, whichever backends came and
went meanwhile.
"""

import os

TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid):
    """Fields after the command name of /proc/PID/stat (index 0 = state)."""
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return text[text.rindex(")") + 2:].split()


def process_cpu(pid):
    """utime + stime of a process (all its threads), in seconds."""
    f = _stat_fields(pid)
    return (int(f[11]) + int(f[12])) / TICKS


def children(ppid):
    """Pids of the live children of `ppid`."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if int(_stat_fields(name)[1]) == ppid:
                out.append(int(name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def cmdline(pid):
    """The process title (postgres rewrites it to say what a backend is)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def is_client_backend(title):
    """True for a backend serving a client: 'postgres: USER DB HOST ...'."""
    parts = title.split()
    return len(parts) >= 4 and parts[0] == "postgres:" and parts[3].startswith(("[local]", "127.", "::1"))


def server_snapshot(postmaster):
    """CPU seconds of the whole server tree so far, and its live client backends.

    Children are read before the postmaster, so a backend that exits in
    between is counted in its own reading rather than lost.
    """
    live = 0.0
    clients = 0
    client_cpu = 0.0
    for pid in children(postmaster):
        try:
            cpu = process_cpu(pid)
        except (OSError, ValueError, IndexError):
            continue
        live += cpu
        if is_client_backend(cmdline(pid)):
            clients += 1
            client_cpu += cpu
    f = _stat_fields(postmaster)
    own = (int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])) / TICKS
    return {"cpu": own + live, "clients": clients, "client_cpu": client_cpu}


def client_backend_memory_kb(postmaster):
    """Sum of the anonymous (private) resident memory of the live client
    backends: what the server holds for its connections, shared buffers
    not included."""
    total = 0
    for pid in children(postmaster):
        if not is_client_backend(cmdline(pid)):
            continue
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total


def memory_kb(pid):
    """(VmRSS, VmHWM) of a process in kB."""
    rss = hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return rss, hwm
