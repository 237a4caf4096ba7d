#!/usr/bin/env python3
"""tests/deploy/test_grafana.py SOURCE BUILD - deploy/grafana/sr-dashboard.json:
  0. read into Grafana's own dashboard schema models (grafana-foundation-sdk
     from PyPI, pinned, in BUILD/venv-grafana) and written back, it must be
     unchanged: no key the schema does not know (grafana_schema.py);
  1. the dashboard's shape, by the default rules of Grafana's
     dashboard-linter written out here (that linter cannot be had from the
     registries this project reaches, see README "Deploy"): a `datasource`
     variable of type datasource for prometheus, `job` and `instance` query
     variables on it, every panel and target on `${datasource}`, every
     panel titled, described and with a unit, every counter (`_total`,
     `_bucket`) under rate()/increase(), every range of a raw metric
     `$__rate_interval`, every selector of a raw metric filtered by
     job=~"$job" and instance=~"$instance" (recording rules are fleet-wide
     sums without those labels: exempt);
  2. every metric a query names (recording rules of
     deploy/prometheus/sr-rules.yml, as the test's Prometheus parsed them,
     resolved to the metrics they read) is
     exported on /metrics by a running sr-dev fleet (2 workers, agent,
     gateway), so renaming a metric breaks this test;
  3. a real Prometheus (test_prometheus.scraped_fleet, the rules loaded) scrapes
     that fleet while runs go through the gateway, and every query of every
     panel, its variables set to "All", parses and returns at least one
     series with a finite value, > 0 for the panels those runs move
     (DRIVEN)."""
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from devfleet import http_get, http_send  # noqa: E402
from test_prometheus import scraped_fleet  # noqa: E402

RUNS = 10
# Grafana's dashboard schema as Python models (Apache-2.0, PyPI), into
# BUILD/venv-grafana; a change of the pin reinstalls.
SCHEMA_PIN = "grafana-foundation-sdk==1769699998!10.1.0"
# Panels the runs this test starts must move: a value > 0 is wanted there
# (the others, e.g. rejections or restores, may rightly answer 0).
DRIVEN = ("Results applied /s (fleet, 1m)", "Events /s (fleet, 1m)",
          "Results applied /s", "Events /s", "Processing latency p50 / p99",
          "Gateway latency p50 / p99", "Gateway requests by status class /s",
          "Agent results sent /s", "LMDB map use")
# metric_names() on the shapes the dashboard and the rules use: a name it
# misses would be a metric this test never checks.
NAME_CASES = [
    ('histogram_quantile(0.99, sum by (le) (rate(a_bucket{job=~"$job",'
     'le!="x"}[$__rate_interval])))', ["a_bucket"]),
    ('sum by (class) (label_replace(rate(b_total{code=~"5.."}[5m]), '
     '"class", "${1}xx", "code", "(.).."))', ["b_total"]),
    ("sum_over_time((c{i=\"}\"} > bool 0)[15m:5s]) * 5", ["c"]),
    ("d:rule:ratio or e / on (instance) group_left f offset 5m",
     ["d:rule:ratio", "e", "f"]),
    ("sum(g - h) without (x) or vector(0)", ["g", "h"]),
]
failures = []
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right",
            "and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"}


def fail(msg):
    failures.append(msg)
    print("FAIL " + msg)


def metric_names(expr):
    """Metric (and recording-rule) names a PromQL expression selects."""
    e = re.sub(r'"(\\.|[^"\\])*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", "", e)
    e = re.sub(r"\[[^\]]*\]", "", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*"
               r"\([^)]*\)", " ", e)
    out = []
    for m in re.finditer(r"(?<![\w:.$])([a-zA-Z_:][\w:]*)(\s*\()?", e):
        if m.group(2) or m.group(1) in KEYWORDS:
            continue
        out.append(m.group(1))
    return out


def selectors(expr):
    """(name, matchers text or "", text before it) of each selector."""
    e = re.sub(r'"(\\.|[^"\\])*"', lambda m: " " * len(m.group(0)), expr)
    for m in re.finditer(r"(?<![\w:.$])([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?",
                         e):
        name = m.group(1)
        rest = e[m.end():]
        if name in KEYWORDS or \
                re.match(r"\s*((by|without)\s*)?\(", rest) or \
                re.search(r"\b(by|without|on|ignoring|group_left|"
                          r"group_right)\s*\([^)]*$", e[:m.start()]):
            continue
        yield name, expr[m.start(2):m.end(2)] if m.group(2) else "", \
            e[:m.start()], rest


def load_rules(prom):
    """{record: expr} of the recording rules as Prometheus itself parsed
    deploy/prometheus/sr-rules.yml (its /api/v1/rules)."""
    s, body = http_get(prom.url + "/api/v1/rules?type=record", 10)
    if s != 200:
        raise RuntimeError("/api/v1/rules: %s %s" % (s, body))
    return {r["name"]: r["query"] for g in json.loads(body)["data"]["groups"]
            for r in g["rules"]}


def resolve(name, rules, seen=()):
    """The exported metric names a name stands for."""
    if name not in rules:
        return {name}
    if name in seen:
        raise ValueError("recording rule loop at " + name)
    out = set()
    for n in metric_names(rules[name]):
        out |= resolve(n, rules, seen + (name,))
    return out


def targets(dash):
    for p in dash["panels"]:
        for t in p.get("targets", []):
            yield p, t


def lint(dash, rules):
    """dashboard-linter's default rules, written out (see the docstring)."""
    ds = {"type": "prometheus", "uid": "${datasource}"}
    tv = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    if dash.get("schemaVersion", 0) < 36:
        fail("schemaVersion %s: older than Grafana 9" %
             dash.get("schemaVersion"))
    v = tv.get("datasource")
    if not v or v.get("type") != "datasource" or v.get("query") != \
            "prometheus":
        fail("template variable datasource: want type datasource, query "
             "prometheus; have %s" % v)
    for name in ("job", "instance"):
        v = tv.get(name)
        if not v or v.get("type") != "query" or v.get("datasource") != ds \
                or not v.get("multi") or not v.get("includeAll"):
            fail("template variable %s: want a multi, include-all query "
                 "variable on ${datasource}; have %s" % (name, v))
    ids = set()
    for p in dash["panels"]:
        if p["id"] in ids:
            fail("panel id %s twice" % p["id"])
        ids.add(p["id"])
        if p["type"] == "row":
            continue
        where = "panel %r" % p.get("title")
        if not p.get("title") or not p.get("description"):
            fail("%s: a title and a description are wanted" % where)
        if p.get("datasource") != ds:
            fail("%s: datasource %s, want %s" % (where, p.get("datasource"),
                                                 ds))
        if not p.get("fieldConfig", {}).get("defaults", {}).get("unit"):
            fail("%s: no unit" % where)
        if not p.get("targets"):
            fail("%s: no query" % where)
        for t in p.get("targets", []):
            if t.get("datasource") != ds:
                fail("%s target %s: datasource %s" % (where, t["refId"],
                                                      t.get("datasource")))
            lint_expr(where + " target " + t["refId"], t["expr"], rules)


def lint_expr(where, expr, rules):
    for name, matchers, before, after in selectors(expr):
        if name in rules:
            continue
        if not ('job=~"$job"' in matchers and
                'instance=~"$instance"' in matchers):
            fail('%s: %s without job=~"$job" and instance=~"$instance"'
                 % (where, name))
        rng = re.match(r"\s*\[([^\]]*)\]", after)
        if name.endswith(("_total", "_bucket")):
            if not re.search(r"\b(rate|irate|increase)\s*\(\s*$", before):
                fail("%s: counter %s outside rate()/increase()"
                     % (where, name))
            if not rng or rng.group(1) != "$__rate_interval":
                fail("%s: %s's range %s, want [$__rate_interval]"
                     % (where, name, rng and rng.group(0)))


def check_exported(dash, rules, scrapes):
    exported = set()
    for text in scrapes.values():
        for line in text.splitlines():
            if line and not line.startswith("#"):
                exported.add(re.match(r"[a-zA-Z_:][\w:]*", line).group(0))
    n = 0
    for p, t in targets(dash):
        names = metric_names(t["expr"])
        if not names and "vector(" not in t["expr"]:
            fail("panel %r %s: no metric found in %s" % (p["title"],
                                                         t["refId"],
                                                         t["expr"]))
        for name in names:
            for m in sorted(resolve(name, rules)):
                n += 1
                if m not in exported:
                    fail("panel %r %s: %s%s is not exported by sr-status, "
                         "sr-agent or sr-gateway" %
                         (p["title"], t["refId"], m,
                          "" if m == name else " (through rule %s)" % name))
    print("%d metric names checked against %d exported" % (n,
                                                           len(exported)))


def check_schema(src, build):
    """grafana_schema.py in a venv holding SCHEMA_PIN."""
    venv = os.path.join(build, "venv-grafana")
    stamp = os.path.join(venv, ".sr-" + SCHEMA_PIN.replace("=", "-"))
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(stamp):
        for cmd in ([sys.executable, "-m", "venv", "--clear", venv],
                    [py, "-m", "pip", "install", "-q",
                     "--disable-pip-version-check", SCHEMA_PIN]):
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode:
                fail("%s: %s" % (" ".join(cmd), r.stdout + r.stderr))
                return
        open(stamp, "w").close()
    r = subprocess.run([py, os.path.join(src, "tests", "deploy",
                                         "grafana_schema.py"),
                        os.path.join(src, "deploy", "grafana",
                                     "sr-dashboard.json")],
                       capture_output=True, text=True)
    print((r.stdout + r.stderr).strip())
    if r.returncode:
        fail("the dashboard does not round-trip through Grafana's schema "
             "(%s)" % SCHEMA_PIN)


def check_extractor():
    for expr, want in NAME_CASES:
        got = metric_names(expr)
        if got != want:
            fail("metric_names(%s) = %s, want %s" % (expr, got, want))


def evaluate(dash, prom):
    subst = {"$__rate_interval": "20s", "$__interval": "1s",
             "$__range": "5m", "$job": ".+", "$instance": ".+"}
    for p, t in targets(dash):
        q = t["expr"]
        for k, v in subst.items():
            q = q.replace(k, v)
        try:
            r = prom.query(q)
        except RuntimeError as e:
            fail("panel %r %s: %s" % (p["title"], t["refId"], e))
            continue
        vals = [float(s["value"][1]) for s in r]
        driven = p["title"] in DRIVEN
        ok = any(math.isfinite(v) and (v > 0 or not driven) for v in vals)
        print("%-4s %-42s %2d series %s" % ("ok" if ok else "FAIL",
                                             p["title"][:42] + " " +
                                             t["refId"], len(vals),
                                             vals[:3]))
        if not ok:
            fail("panel %r %s: %s from %s" % (p["title"], t["refId"],
                                              "no value > 0" if driven else
                                              "no data", q))
    titles = {p["title"] for p in dash["panels"]}
    for t in DRIVEN:
        if t not in titles:
            fail("no panel %r (DRIVEN names it)" % t)


def main():
    src, build = (os.path.abspath(a) for a in sys.argv[1:3])
    with open(os.path.join(src, "deploy", "grafana",
                           "sr-dashboard.json")) as f:
        dash = json.load(f)
    check_extractor()
    check_schema(src, build)
    with tempfile.TemporaryDirectory(prefix="sr-graf-") as tmp, \
            scraped_fleet(src, build, tmp) as (dev, prom, urls):
        rules = load_rules(prom)
        print("%d recording rules from deploy/prometheus/sr-rules.yml"
              % len(rules))
        if not rules:
            fail("no recording rule loaded from sr-rules.yml")
        lint(dash, rules)
        check_exported(dash, rules, {n: http_get(u + "/metrics")[1]
                                     for n, u in urls.items()})
        body = open(os.path.join(src, "deploy", "examples",
                                 "canary.json"), "rb").read()
        time.sleep(2)
        # A counter series is born at its first increment, and rate() counts
        # nothing for a series first scraped at its final value: ten POSTs
        # inside one 1 s scrape made the request and agent panels read 0
        # (CI, stop 21). So one run first, a few scrapes of the newborn
        # series, then the rest spread over several scrapes.
        for i in range(RUNS):
            s, answer = http_send(dev.http + "/v0/runs/", "POST", body,
                                  "dev-token")
            if s != 200:
                fail("POST /v0/runs/ answered %d: %s" % (s, answer[:200]))
            time.sleep(3 if i == 0 else 0.4)
        time.sleep(6)  # a few scrapes and rule evaluations after them
        evaluate(dash, prom)
    print("grafana: %s" % ("FAILED" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
