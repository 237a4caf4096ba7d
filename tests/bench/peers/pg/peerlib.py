"""What test_peer_pg.py, bench.py and tests/bench/harness.py share: an
sr-dev fleet with sr-agent answering at zero latency, stopping a child, and
the CPU time of processes."""
import os
import signal
import subprocess

TICK = os.sysconf("SC_CLK_TCK")


def start_dev(build, data, workers, log, partitions=4, bootstrap=None,
              prefix=None, agent=True, extra=()):
    """sr-dev --workers N on its embedded broker (or on --bootstrap under
    topic prefix @prefix), with sr-agent unless @agent is false, @extra
    flags (-D key=value) for every child; returns (process,
    bootstrap.servers) once it printed `ready`."""
    env = dict(os.environ, SR_AGENT_LATENCY_MS="0")
    cmd = [os.path.join(build, "sr-dev"), "--workers", str(workers),
           "--data-dir", data, "--partitions", str(partitions),
           "--http-port", "0", "--agent", "on" if agent else "off"]
    cmd += list(extra)
    if bootstrap:
        cmd += ["--bootstrap", bootstrap, "-D", f"topic.prefix={prefix}",
                "-D", f"group.id={prefix}status", "-D",
                f"agent.group.id={prefix}agent"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(log, "w"),
                         env=env, text=True)
    boot = None
    for line in p.stdout:
        if line.startswith("bootstrap.servers="):
            boot = line.strip().split("=", 1)[1]
        if line.startswith("ready"):
            return p, boot
    raise SystemExit(f"FAIL sr-dev --workers {workers} did not start: "
                     f"see {log}")


def stop(p, timeout=30):
    """SIGTERM, then SIGKILL after @timeout seconds."""
    if p and p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def proc_cpu(pid, children=False):
    """CPU seconds (utime + stime) of process @pid, with its waited-for
    children's (cutime + cstime) if @children; 0 once it is gone."""
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    t = int(f[11]) + int(f[12])
    if children:
        t += int(f[13]) + int(f[14])
    return t / TICK


def child_pids(ppid, comm=None):
    """The live children of @ppid (named @comm, if given)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            s = open(f"/proc/{d}/stat").read()
        except OSError:
            continue
        name = s[s.index("(") + 1:s.rindex(")")]
        fields = s.rsplit(")", 1)[1].split()
        if int(fields[1]) == ppid and (comm is None or name == comm):
            out.append(int(d))
    return out
