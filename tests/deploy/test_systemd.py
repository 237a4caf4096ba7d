#!/usr/bin/env python3
"""tests/deploy/test_systemd.py SOURCE BUILD - the units of deploy/systemd:
  - `systemd-analyze verify` on copies whose ExecStart= names the build's
    binaries (verify checks they exist) and an instance of the template:
    exit 0 and not one line of output (unknown keys, bad syscall groups
    and the like are only warnings there);
  - the settings this project relies on are present in each unit
    (Type=notify, the watchdog, the hardening of the README's list);
  - `systemd-analyze security --offline=true`: overall exposure <= 2.0."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

UNITS = {"sr-status@.service": "sr-status",
         "sr-gateway.service": "sr-gateway",
         "sr-agent.service": "sr-agent"}
REQUIRED = ["Type=notify", "NotifyAccess=main", "WatchdogSec=",
            "DynamicUser=yes", "ProtectSystem=strict", "ProtectHome=yes",
            "PrivateTmp=yes", "NoNewPrivileges=yes",
            "MemoryDenyWriteExecute=yes", "CapabilityBoundingSet=",
            "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK",
            "SystemCallFilter=@system-service", "SystemCallArchitectures=native",
            "Restart=on-failure", "EnvironmentFile=/etc/sr/sr.env"]
STATEFUL = ["StateDirectory=", "Environment=SR_DATA_DIR=%S/"]
MAX_EXPOSURE = 2.0


def main():
    src, build = (os.path.abspath(a) for a in sys.argv[1:3])
    unit_dir = os.path.join(src, "deploy", "systemd")
    failures = []
    with tempfile.TemporaryDirectory(prefix="sr-units-") as tmp:
        files = []
        for unit, binary in UNITS.items():
            text = open(os.path.join(unit_dir, unit)).read()
            lines = [l.strip() for l in text.splitlines()]
            need = REQUIRED + (STATEFUL if binary != "sr-agent" else [])
            for r in need:
                if not any(l == r if r.endswith("=") and r ==
                           "CapabilityBoundingSet=" else l.startswith(r)
                           for l in lines):
                    failures.append("%s: no %s" % (unit, r))
            # the worker a static member unique in the fleet (host and
            # instance): docs/guarantee.md, exactly_once
            if binary == "sr-status" and \
                    "Environment=SR_KAFKA_GROUP_INSTANCE_ID=status-%H-%i" \
                    not in lines:
                failures.append("%s: no static member id from the host and "
                                "the instance" % unit)
            exe = "ExecStart=/usr/local/bin/%s" % binary
            if exe not in lines:
                failures.append("%s: no %s" % (unit, exe))
            text = text.replace(exe, "ExecStart=%s/%s" % (build, binary))
            name = unit.replace("@.", "@9101.")
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)
            files.append(os.path.join(tmp, name))
        r = subprocess.run(["systemd-analyze", "verify"] + files,
                           capture_output=True, text=True, cwd=tmp)
        out = (r.stdout + r.stderr).strip()
        print("systemd-analyze verify: exit %d%s" % (r.returncode,
              ", output:\n" + out if out else ", no output"))
        if r.returncode or out:
            failures.append("systemd-analyze verify failed")
        for path in files:
            r = subprocess.run(["systemd-analyze", "security",
                                "--offline=true", path],
                               capture_output=True, text=True, cwd=tmp)
            m = re.search(r"Overall exposure level for \S+: ([0-9.]+)",
                          r.stdout)
            print("%s: %s" % (os.path.basename(path),
                              m.group(0) if m else r.stderr.strip()))
            if not m or float(m.group(1)) > MAX_EXPOSURE:
                failures.append("%s: exposure above %.1f"
                                % (os.path.basename(path), MAX_EXPOSURE))
    for f in failures:
        print("FAIL " + f)
    print("systemd units: %s" % ("FAILED" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
