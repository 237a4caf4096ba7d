#!/usr/bin/env python3
"""tests/deploy/test_front_door.py SOURCE BUILD - ./dev.sh's stdout carries
only the lines scripts read (bootstrap.servers=, http=, token=, ready),
even while it installs packages: apt-get and dpkg-query are replaced (PATH)
by stand-ins that report a package missing and print what apt-get prints,
on stdout as apt-get does. Everything else must reach stderr."""
import os
import re
import signal
import stat
import subprocess
import sys
import tempfile
import time

ALLOWED = [r"bootstrap\.servers=127\.0\.0\.1:\d+", r"http=http://127\.0\.0\.1:\d+",
           r"token=dev-token enterprise=dev", r"ready workers=1 agent=off"]

STUBS = {
    # one package reported missing: install-deps runs apt-get
    "dpkg-query": "#!/bin/sh\n[ \"$3\" = wrk ] && exit 1\n"
                  "echo 'install ok installed'\n",
    "apt-get": "#!/bin/sh\necho 'Reading package lists... Done'\n"
               "echo \"apt-get $*\"\n",
    "sudo": "#!/bin/sh\nexec \"$@\"\n",
}


def main():
    src, build = (os.path.abspath(a) for a in sys.argv[1:3])
    with tempfile.TemporaryDirectory(prefix="sr-door-") as tmp:
        bindir = os.path.join(tmp, "bin")
        os.makedirs(bindir)
        for name, text in STUBS.items():
            p = os.path.join(bindir, name)
            with open(p, "w") as f:
                f.write(text)
            os.chmod(p, stat.S_IRWXU)
        env = dict(os.environ, PATH=bindir + ":" + os.environ["PATH"],
                   SR_BUILD=build)
        env.pop("SR_API_TOKENS", None)
        err = open(os.path.join(tmp, "stderr"), "w+")
        proc = subprocess.Popen(
            [os.path.join(src, "dev.sh"), "--workers", "1", "--agent", "off",
             "--http-port", "0", "--data-dir", os.path.join(tmp, "var")],
            stdout=subprocess.PIPE, stderr=err, env=env, text=True,
            start_new_session=True)
        lines = []
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                lines.append(line.rstrip("\n"))
                if line.startswith("ready"):
                    break
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                rest = proc.communicate(timeout=30)[0]
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                rest = proc.communicate()[0]
        lines += [l for l in rest.splitlines()]
        err.seek(0)
        errtext = err.read()
    print("stdout of ./dev.sh:\n  " + "\n  ".join(lines))
    failures = []
    if "Reading package lists" not in errtext:
        failures.append("the stand-in apt-get did not run (its output is "
                        "not on stderr either)")
    stray = [l for l in lines
             if not any(re.fullmatch(a, l) for a in ALLOWED)]
    if stray:
        failures.append("stdout has other lines: %s" % stray)
    if [l.split("=")[0].split()[0] for l in lines if l not in stray] != \
            ["bootstrap.servers", "http", "token", "ready"]:
        failures.append("stdout lacks the four lines in order")
    for f in failures:
        print("FAIL " + f)
    print("front door: %s" % ("FAILED" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
