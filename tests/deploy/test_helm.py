#!/usr/bin/env python3
"""tests/deploy/test_helm.py SOURCE BUILD - the Helm chart deploy/helm/sr:
  0. the tools (deploy_tools.sh: helm built from its Go module, a venv with
     kubernetes-validate), then this script again in that venv;
  1. `helm lint --strict` and `helm template` with the default values, with
     values-production.yaml, with the agent on and with Kafka credentials
     given to the chart; wrong values
     (status.kind, a per-process key in config) must make helm fail;
  2. every rendered object validated, strictly (no unknown field), against
     the Kubernetes 1.37 JSON schemas kubernetes-validate ships; the one
     kind without a schema there, the ServiceMonitor (a CRD), by checks of
     its own below;
  3. the chart's promises: the app.kubernetes.io labels on every object and
     pod; every container of sr-status, sr-gateway and sr-agent with
     liveness on /livez, readiness on /readyz, both on its named port,
     whose number is its SR_HTTP_PORT; non-root, no privilege escalation,
     read-only root, every capability dropped; memory requests and limits;
     terminationGracePeriodSeconds equal to the systemd unit's
     TimeoutStopSec (the drain, deploy/systemd); a PodDisruptionBudget
     selecting exactly the workers' pods; every Service and ServiceMonitor
     selecting the pods (Services) it means, on a port they name, /metrics
     with the job label of the binary; the LMDB data on an emptyDir
     (Deployment) or a claim (StatefulSet); every SR_ variable naming a key
     of the configuration table (`sr-status --list-config`); no
     credential in the ConfigMap; the topics Job creating every sr topic,
     the changelog compacted, and a Secret it reads, when the chart makes
     it, a hook created before the Job (a pre-install hook runs before the
     release's own Secret exists);
  4. each check of 3 fed a broken copy of a rendered object must fail.
"""
import copy
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance",
          "app.kubernetes.io/component", "app.kubernetes.io/version",
          "app.kubernetes.io/managed-by", "app.kubernetes.io/part-of")
SR_COMPONENTS = {"status": "sr-status", "gateway": "sr-gateway",
                 "agent": "sr-agent"}
UNITS = {"status": "sr-status@.service", "gateway": "sr-gateway.service",
         "agent": "sr-agent.service"}
# SR_ variables that are not configuration keys (common/io/sr_conf.c).
NOT_KEYS = {"SR_API_TOKENS"}
K8S_VERSION = "1.37.0"


def tools(build):
    """The paths deploy_tools.sh prints; the first call (outside the venv)
    makes the tools and runs this script again in the venv's python."""
    if os.environ.get("SR_DEPLOY_TOOLS"):
        return json.loads(os.environ["SR_DEPLOY_TOOLS"])
    out = subprocess.run([os.path.join(HERE, "deploy_tools.sh"), build],
                         capture_output=True, text=True)
    sys.stderr.write(out.stderr)
    if out.returncode:
        sys.exit("FAIL deploy_tools.sh: exit %d" % out.returncode)
    tl = dict(line.split("=", 1) for line in out.stdout.split())
    os.environ["SR_DEPLOY_TOOLS"] = json.dumps(tl)
    os.execv(tl["python"], [tl["python"]] + sys.argv)


def config_keys(build):
    """SR_<KEY> of every key of the configuration table."""
    listing = subprocess.run([os.path.join(build, "sr-status"),
                              "--list-config"], capture_output=True,
                             text=True, check=True).stdout
    return {"SR_" + ln.split()[0].upper().replace(".", "_")
            for ln in listing.splitlines()[1:] if ln.strip()}


def unknown_vars(names, keys):
    """The SR_ variables among names that set no configuration key
    (kafka.* keys go to librdkafka: any SR_KAFKA_ is one)."""
    return [k for k in names if k.startswith("SR_") and k not in NOT_KEYS
            and not k.startswith("SR_KAFKA_") and k not in keys]


class Checker:
    def __init__(self, src, build, config_keys):
        self.src, self.build = src, build
        self.keys = config_keys
        self.failures = []
        self.grace = {}
        for comp, unit in UNITS.items():
            text = open(os.path.join(src, "deploy", "systemd", unit)).read()
            m = re.search(r"^TimeoutStopSec=(\d+)s$", text, re.M)
            self.grace[comp] = int(m.group(1))
        java = open(os.path.join(src, "deploy", "kafka",
                                 "SrKafkaAdmin.java")).read()
        m = re.search(r"SUFFIXES = \{([^}]*)\}", java)
        self.topics = re.findall(r'"([\w-]+)"', m.group(1))

    def fail(self, where, msg):
        self.failures.append("%s: %s" % (where, msg))

    # ---- the checks of one rendering (a list of objects) ----
    def check(self, name, objs):
        by_kind = {}
        self.tls_comps = set()
        for o in objs:
            by_kind.setdefault(o["kind"], []).append(o)
            where = "%s %s/%s" % (name, o["kind"], o["metadata"]["name"])
            self.labels(where, o["metadata"].get("labels", {}))
        workloads = by_kind.get("Deployment", []) + \
            by_kind.get("StatefulSet", [])
        pods = {}
        for w in workloads:
            self.workload(name, w, pods)
        for j in by_kind.get("Job", []):
            self.job(name, j)
            self.hook_secrets(name, j, by_kind.get("Secret", []))
        comps = {c for c, _ in pods.values()}
        for need in ("status", "gateway"):
            if need not in comps:
                self.fail(name, "no %s workload rendered" % need)
        self.pdbs(name, by_kind.get("PodDisruptionBudget", []), pods)
        services = self.services(name, by_kind.get("Service", []), pods)
        self.monitors(name, by_kind.get("ServiceMonitor", []), services,
                      comps)
        for cm in by_kind.get("ConfigMap", []):
            self.config(name, cm)
        return comps

    def labels(self, where, labels):
        for k in LABELS:
            if not labels.get(k):
                self.fail(where, "label %s missing" % k)

    def workload(self, name, w, pods):
        where = "%s %s/%s" % (name, w["kind"], w["metadata"]["name"])
        tpl = w["spec"]["template"]
        plabels = tpl["metadata"].get("labels", {})
        self.labels(where + " pod", plabels)
        sel = w["spec"]["selector"]["matchLabels"]
        if any(plabels.get(k) != v for k, v in sel.items()):
            self.fail(where, "selector %s does not match its pods" % sel)
        comp = plabels.get("app.kubernetes.io/component")
        pods[w["metadata"]["name"]] = (comp, plabels)
        spec = tpl["spec"]
        self.nonroot(where, spec)
        if comp not in SR_COMPONENTS:
            self.fail(where, "component %r is no sr process" % comp)
            return
        if spec.get("terminationGracePeriodSeconds") != self.grace[comp]:
            self.fail(where, "terminationGracePeriodSeconds %s, the drain "
                      "of %s (TimeoutStopSec) is %d s" %
                      (spec.get("terminationGracePeriodSeconds"),
                       UNITS[comp], self.grace[comp]))
        vols = {v["name"]: v for v in spec.get("volumes", [])}
        claims = [c["metadata"]["name"]
                  for c in w["spec"].get("volumeClaimTemplates", [])]
        for c in spec["containers"]:
            cw = "%s container %s" % (where, c["name"])
            if c.get("command", [None])[0] != SR_COMPONENTS[comp]:
                self.fail(cw, "command %s, want %s" %
                          (c.get("command"), SR_COMPONENTS[comp]))
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            self.env_keys(cw, env)
            # A StatefulSet's workers are static members named after their
            # pods (stable across restarts); a Deployment's pod names are
            # new on every restart, so a static id would leave a ghost
            # member holding partitions for a session timeout.
            gi = next((e for e in c.get("env", [])
                       if e["name"] == "SR_KAFKA_GROUP_INSTANCE_ID"), None)
            gi_pod = gi is not None and (gi.get("valueFrom") or {}).get(
                "fieldRef", {}).get("fieldPath") == "metadata.name"
            if comp == "status" and w["kind"] == "StatefulSet" and not gi_pod:
                self.fail(cw, "a StatefulSet worker without "
                          "SR_KAFKA_GROUP_INSTANCE_ID from its pod name "
                          "(static membership)")
            if w["kind"] == "Deployment" and gi is not None:
                self.fail(cw, "SR_KAFKA_GROUP_INSTANCE_ID in a Deployment: "
                          "its pod names change on every restart")
            ports = {p.get("name"): p["containerPort"]
                     for p in c.get("ports", [])}
            want = env.get("SR_HTTP_PORT")
            tls = bool(env.get("SR_GATEWAY_TLS_CERT_FILE"))
            if tls:
                self.tls_comps.add(comp)
                self.tls_files(cw, c, vols, env)
            for probe, path in (("livenessProbe", "/livez"),
                                ("readinessProbe", "/readyz")):
                g = (c.get(probe) or {}).get("httpGet")
                if not g:
                    self.fail(cw, "no %s httpGet" % probe)
                    continue
                scheme = g.get("scheme", "HTTP")
                if scheme != ("HTTPS" if tls else "HTTP"):
                    self.fail(cw, "%s over %s, the process serves %s" %
                              (probe, scheme, "https" if tls else "http"))
                if g.get("path") != path:
                    self.fail(cw, "%s on %s, want %s" %
                              (probe, g.get("path"), path))
                port = ports.get(g["port"], g["port"])
                if str(port) != str(want):
                    self.fail(cw, "%s on port %s, the process listens on "
                              "SR_HTTP_PORT=%s" % (probe, port, want))
            if env.get("SR_HTTP_BIND") != "0.0.0.0":
                self.fail(cw, "SR_HTTP_BIND %s: probes from the kubelet "
                          "need 0.0.0.0" % env.get("SR_HTTP_BIND"))
            res = c.get("resources", {})
            for k in ("requests", "limits"):
                if "memory" not in res.get(k, {}):
                    self.fail(cw, "no memory %s" % k)
            data = [m for m in c.get("volumeMounts", [])
                    if m["mountPath"] == env.get("SR_DATA_DIR")]
            if not data:
                self.fail(cw, "SR_DATA_DIR %s is not a mounted volume "
                          "(read-only root)" % env.get("SR_DATA_DIR"))
            else:
                v = data[0]["name"]
                if w["kind"] == "StatefulSet" and comp == "status":
                    if v not in claims:
                        self.fail(cw, "StatefulSet data %s is no claim" % v)
                elif "emptyDir" not in vols.get(v, {}):
                    self.fail(cw, "data %s is no emptyDir" % v)

    def tls_files(self, cw, c, vols, env):
        """The gateway's certificate and key: files of a Secret's volume,
        mounted read-only."""
        for k in ("SR_GATEWAY_TLS_CERT_FILE", "SR_GATEWAY_TLS_KEY_FILE"):
            f = env.get(k) or ""
            m = [m for m in c.get("volumeMounts", [])
                 if f.startswith(m["mountPath"].rstrip("/") + "/")]
            if not m:
                self.fail(cw, "%s=%s is on no mounted volume" % (k, f))
            elif "secret" not in vols.get(m[0]["name"], {}):
                self.fail(cw, "%s=%s is not from a Secret" % (k, f))
            elif not m[0].get("readOnly"):
                self.fail(cw, "%s's volume is mounted writable" % k)

    def nonroot(self, where, spec):
        psc = spec.get("securityContext", {})
        for c in spec["containers"]:
            sc = c.get("securityContext", {})
            cw = "%s container %s" % (where, c["name"])
            nonroot = sc.get("runAsNonRoot", psc.get("runAsNonRoot"))
            uid = sc.get("runAsUser", psc.get("runAsUser"))
            if nonroot is not True or uid in (None, 0):
                self.fail(cw, "not non-root (runAsNonRoot %s, runAsUser "
                          "%s)" % (nonroot, uid))
            if sc.get("allowPrivilegeEscalation") is not False:
                self.fail(cw, "allowPrivilegeEscalation is not false")
            if sc.get("readOnlyRootFilesystem") is not True:
                self.fail(cw, "root filesystem not read-only")
            if "ALL" not in sc.get("capabilities", {}).get("drop", []):
                self.fail(cw, "capabilities not all dropped")

    def job(self, name, j):
        where = "%s Job/%s" % (name, j["metadata"]["name"])
        spec = j["spec"]["template"]["spec"]
        self.labels(where + " pod", j["spec"]["template"]["metadata"]
                    .get("labels", {}))
        self.nonroot(where, spec)
        script = "\n".join(spec["containers"][0].get("args", []))
        for t in self.topics:
            if not re.search(r"^\s*t %s\b" % t, script, re.M):
                self.fail(where, "does not create the topic %s" % t)
        if not re.search(r"t changelog .*cleanup\.policy=compact",
                         script.replace("\\\n", " ")):
            self.fail(where, "changelog not compacted")
        if not re.search(r"t idempotency .*cleanup\.policy=compact,delete"
                         r" .*retention\.ms=\d+",
                         script.replace("\\\n", " ")):
            self.fail(where, "idempotency claims not compact,delete with "
                      "a retention")

    def hook_secrets(self, name, j, secrets):
        """A hook Job runs before the release's own objects exist: a Secret
        of the chart it reads must be a hook created before it."""
        where = "%s Job/%s" % (name, j["metadata"]["name"])
        ja = j["metadata"].get("annotations", {})
        if "helm.sh/hook" not in ja:
            return
        spec = j["spec"]["template"]["spec"]
        refs = [e["secretRef"]["name"] for c in spec["containers"]
                for e in c.get("envFrom", []) if "secretRef" in e]
        for sec in secrets:
            if sec["metadata"]["name"] not in refs:
                continue
            sa = sec["metadata"].get("annotations", {})
            if "helm.sh/hook" not in sa or \
                    int(sa.get("helm.sh/hook-weight", 0)) >= \
                    int(ja.get("helm.sh/hook-weight", 0)):
                self.fail(where, "reads Secret %s, which a hook does not "
                          "create before it" % sec["metadata"]["name"])

    def env_keys(self, where, env):
        for k in unknown_vars(env, self.keys):
            self.fail(where, "%s names no configuration key" % k)

    def config(self, name, cm):
        where = "%s ConfigMap/%s" % (name, cm["metadata"]["name"])
        self.env_keys(where, cm.get("data", {}))
        for k in cm.get("data", {}):
            if re.search(r"PASSWORD|TOKENS|SECRET", k):
                self.fail(where, "credential %s belongs in a Secret" % k)

    def pdbs(self, name, pdbs, pods):
        status = [lb for c, lb in pods.values() if c == "status"]
        if not pdbs:
            self.fail(name, "no PodDisruptionBudget")
        covered = False
        for p in pdbs:
            where = "%s PodDisruptionBudget/%s" % (name,
                                                   p["metadata"]["name"])
            sel = p["spec"]["selector"]["matchLabels"]
            hits = {c for c, lb in pods.values()
                    if all(lb.get(k) == v for k, v in sel.items())}
            if len(hits) != 1:
                self.fail(where, "selects the pods of %s, want one "
                          "component" % (sorted(hits) or "nothing"))
            if hits == {"status"}:
                covered = True
        if status and not covered:
            self.fail(name, "no PodDisruptionBudget selects the workers")

    def services(self, name, services, pods):
        out = {}
        for s in services:
            where = "%s Service/%s" % (name, s["metadata"]["name"])
            sel = s["spec"].get("selector", {})
            hits = {c for c, lb in pods.values()
                    if sel and all(lb.get(k) == v for k, v in sel.items())}
            if len(hits) != 1:
                self.fail(where, "selects %s, want one component" %
                          (sorted(hits) or "nothing"))
            for p in s["spec"]["ports"]:
                if p.get("targetPort") != "http":
                    self.fail(where, "targetPort %s is not the "
                              "containers' http port" % p.get("targetPort"))
            out[s["metadata"]["name"]] = (s, hits)
        return out

    def monitors(self, name, monitors, services, comps):
        seen = set()
        for m in monitors:
            where = "%s ServiceMonitor/%s" % (name, m["metadata"]["name"])
            if m.get("apiVersion") != "monitoring.coreos.com/v1":
                self.fail(where, "apiVersion %s" % m.get("apiVersion"))
            spec = m.get("spec", {})
            unknown = set(spec) - {"selector", "endpoints", "jobLabel",
                                   "namespaceSelector"}
            if unknown:
                self.fail(where, "unknown fields %s" % sorted(unknown))
            sel = spec.get("selector", {}).get("matchLabels", {})
            hit = [(s, h) for s, h in services.values()
                   if sel and all(s["metadata"]["labels"].get(k) == v
                                  for k, v in sel.items())]
            if len(hit) != 1:
                self.fail(where, "selects %d Services, want 1" % len(hit))
                continue
            svc, comp = hit[0]
            comp = next(iter(comp), None)
            seen.add(comp)
            names = {p.get("name") for p in svc["spec"]["ports"]}
            for e in spec.get("endpoints", []):
                scheme = e.get("scheme", "http")
                if scheme != ("https" if comp in self.tls_comps else "http"):
                    self.fail(where, "scrapes over %s, %s serves %s" %
                              (scheme, comp, "https" if comp in
                               self.tls_comps else "http"))
                if scheme == "https" and not e.get("tlsConfig", {}).get("ca"):
                    self.fail(where, "https without a CA to verify")
                if e.get("port") not in names:
                    self.fail(where, "port %s not on Service %s" %
                              (e.get("port"), svc["metadata"]["name"]))
                if e.get("path") != "/metrics":
                    self.fail(where, "path %s" % e.get("path"))
                jobs = [r.get("replacement") for r in
                        e.get("relabelings", [])
                        if r.get("targetLabel") == "job"]
                if jobs != [SR_COMPONENTS.get(comp)]:
                    self.fail(where, "job label %s, want %s (the rules "
                              "and the dashboard select on it)" %
                              (jobs, SR_COMPONENTS.get(comp)))
        if monitors and seen != comps:
            self.fail(name, "ServiceMonitors cover %s, the processes are "
                      "%s" % (sorted(seen), sorted(comps)))


def helm(tl, *args, ok=True):
    r = subprocess.run([tl["helm"]] + list(args), capture_output=True,
                       text=True)
    if ok and r.returncode:
        raise RuntimeError("helm %s: %s" % (" ".join(args),
                                            r.stdout + r.stderr))
    return r


def main():
    src, build = sys.argv[1], sys.argv[2]
    tl = tools(build)
    import yaml
    import kubernetes_validate as kv

    chart = os.path.join(src, "deploy", "helm", "sr")
    prod = os.path.join(chart, "values-production.yaml")
    keys = config_keys(build)
    ck = Checker(src, build, keys)
    renders = {"default": [], "production": ["-f", prod],
               "agent": ["--set", "agent.enabled=true"],
               "tls": ["--set", "gateway.tls.secretName=sr-gateway-tls"],
               "sasl": ["--set", "secret.kafkaSaslUsername=u,"
                        "secret.kafkaSaslPassword=p,"
                        "secret.apiTokens={t:e}"]}
    rendered, components = {}, {}
    for name, extra in renders.items():
        r = helm(tl, "lint", "--strict", chart, *extra, ok=False)
        if r.returncode:
            ck.fail(name, "helm lint --strict: " + r.stdout + r.stderr)
        r = helm(tl, "template", "sr", chart, "--namespace", "sr", *extra,
                 ok=False)
        if r.returncode:
            ck.fail(name, "helm template: " + r.stderr)
            continue
        objs = [d for d in yaml.safe_load_all(r.stdout) if d]
        rendered[name] = objs
        n = 0
        for o in objs:
            where = "%s %s/%s" % (name, o["kind"], o["metadata"]["name"])
            try:
                kv.validate(o, K8S_VERSION, strict=True)
                n += 1
            except kv.SchemaNotFoundError:
                if o["kind"] != "ServiceMonitor":
                    ck.fail(where, "no Kubernetes schema for this kind")
            except kv.ValidationError as e:
                ck.fail(where, "schema %s: %s at %s" %
                        (K8S_VERSION, e.message,
                         "/".join(map(str, e.path))))
        comps = components[name] = ck.check(name, objs)
        print("%s: %d objects, %d validated against the Kubernetes %s "
              "schemas, components %s" % (name, len(objs), n, K8S_VERSION,
                                         sorted(comps)))
    kinds = {o["kind"] for o in rendered.get("production", [])}
    if "StatefulSet" not in kinds:
        ck.fail("production", "status.kind statefulset rendered no "
                "StatefulSet")
    gw_tls = [o for o in rendered.get("tls", []) if o["kind"] == "Deployment"
              and o["metadata"]["labels"]["app.kubernetes.io/component"] ==
              "gateway" and any(e["name"] == "SR_GATEWAY_TLS_CERT_FILE"
                                for e in o["spec"]["template"]["spec"]
                                ["containers"][0]["env"])]
    if not gw_tls:
        ck.fail("tls", "gateway.tls.secretName rendered no TLS gateway")
    if "agent" not in components.get("agent", ()):
        ck.fail("agent", "agent.enabled=true rendered no agent")
    # Wrong values are refused by helm, naming the value.
    for args, want in ((["--set", "status.kind=pod"], "status.kind"),
                       (["--set", "config.http\\.port=1"], "http.port"),
                       (["--set", "kafka.bootstrapServers="],
                        "kafka.bootstrapServers")):
        r = helm(tl, "template", "sr", chart, *args, ok=False)
        if r.returncode == 0 or want not in r.stderr:
            ck.fail("values %s" % " ".join(args), "helm template exit %d, "
                    "want a failure naming %s: %s" % (r.returncode, want,
                                                      r.stderr.strip()))
    real = list(ck.failures)

    # 4. The checks must catch a broken object.
    mutants = []

    def broken(what, mutate, render="default"):
        mutants.append(what)
        objs = copy.deepcopy(rendered[render])
        mutate(objs)
        c = Checker(src, build, keys)
        c.check("mutant", objs)
        if not c.failures:
            real.append("mutant %r: no check failed" % what)

    def kind(objs, k, comp=None):
        return next(o for o in objs if o["kind"] == k and
                    (comp is None or o["metadata"]["labels"]
                     ["app.kubernetes.io/component"] == comp))

    def ctr(objs, comp):
        return kind(objs, "Deployment", comp)["spec"]["template"]["spec"][
            "containers"][0]

    def setenv(c, k, v):
        next(e for e in c["env"] if e["name"] == k)["value"] = v

    broken("no readiness probe",
           lambda o: ctr(o, "gateway").pop("readinessProbe"))
    broken("liveness on /readyz",
           lambda o: ctr(o, "status")["livenessProbe"]["httpGet"]
           .update(path="/readyz"))
    broken("port is not SR_HTTP_PORT",
           lambda o: setenv(ctr(o, "status"), "SR_HTTP_PORT", "9999"))
    broken("TLS gateway probed over http",
           lambda o: ctr(o, "gateway")["readinessProbe"]["httpGet"]
           .pop("scheme"), render="tls")
    broken("TLS gateway scraped over http",
           lambda o: kind(o, "ServiceMonitor", "gateway")["spec"]
           ["endpoints"][0].pop("scheme"), render="tls")
    broken("TLS key on the data volume",
           lambda o: setenv(ctr(o, "gateway"), "SR_GATEWAY_TLS_KEY_FILE",
                            "/var/lib/sr/tls.key"), render="tls")
    broken("probed over https without TLS",
           lambda o: ctr(o, "gateway")["livenessProbe"]["httpGet"]
           .update(scheme="HTTPS"))
    broken("runs as root",
           lambda o: kind(o, "Deployment", "status")["spec"]["template"]
           ["spec"]["securityContext"].update(runAsUser=0))
    broken("short grace",
           lambda o: kind(o, "Deployment", "status")["spec"]["template"]
           ["spec"].update(terminationGracePeriodSeconds=30))
    broken("PDB on the gateway",
           lambda o: kind(o, "PodDisruptionBudget")["spec"]["selector"]
           ["matchLabels"].update({"app.kubernetes.io/component":
                                   "gateway"}))
    broken("label missing",
           lambda o: kind(o, "Service")["metadata"]["labels"]
           .pop("app.kubernetes.io/part-of"))
    broken("unknown key",
           lambda o: kind(o, "ConfigMap")["data"].update(SR_BATCHSIZE="1"))
    broken("monitor on a wrong port",
           lambda o: kind(o, "ServiceMonitor")["spec"]["endpoints"][0]
           .update(port="metrics"))
    broken("topic missing",
           lambda o: kind(o, "Job")["spec"]["template"]["spec"]
           ["containers"][0].update(args=[kind(o, "Job")["spec"]["template"]
                                          ["spec"]["containers"][0]["args"]
                                          [0].replace("t dlq", "")]))
    broken("StatefulSet worker not a static member",
           lambda o: kind(o, "StatefulSet")["spec"]["template"]["spec"]
           ["containers"][0].update(env=[
               e for e in kind(o, "StatefulSet")["spec"]["template"]["spec"]
               ["containers"][0]["env"]
               if e["name"] != "SR_KAFKA_GROUP_INSTANCE_ID"]),
           render="production")
    broken("Deployment worker a static member",
           lambda o: ctr(o, "status")["env"].append(
               {"name": "SR_KAFKA_GROUP_INSTANCE_ID",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}))
    broken("StatefulSet data on no claim",
           lambda o: kind(o, "StatefulSet")["spec"]
           .update(volumeClaimTemplates=[]), render="production")
    broken("topics Job on the release's Secret",
           lambda o: next(x for x in o if x["kind"] == "Secret" and
                          "annotations" in x["metadata"])["metadata"]
           .pop("annotations"), render="sasl")
    for f in real:
        print("FAIL " + f)
    if real:
        sys.exit(1)
    print("ok: helm lint, helm template (%s), schemas and %d broken copies "
          "refused" % (", ".join(renders), len(mutants)))


if __name__ == "__main__":
    main()
