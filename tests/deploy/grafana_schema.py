"""tests/deploy/grafana_schema.py DASHBOARD.json - run in a venv holding
grafana-foundation-sdk (Grafana's dashboard schema as Python models, from
PyPI; test_grafana.py makes the venv): the dashboard read into the schema's
Dashboard model and written back must equal the file: whatever the model
drops is a field the schema does not know (a misspelt key, a key at the
wrong level). The models do not check the values' types. Prints each
difference, exits 1 if any."""
import json
import sys

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard


def diff(a, b, path, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in a:
            if k not in b:
                out.append("%s/%s: not in Grafana's dashboard schema"
                           % (path, k))
            else:
                diff(a[k], b[k], "%s/%s" % (path, k), out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, "%s/%d" % (path, i), out)
    elif a != b:
        out.append("%s: %r read back as %r" % (path or "/", a, b))


def main():
    with open(sys.argv[1]) as f:
        dash = json.load(f)
    back = json.loads(json.dumps(Dashboard.from_json(dash), cls=JSONEncoder))
    out = []
    diff(dash, back, "", out)
    for line in out:
        print("FAIL schema: " + line)
    print("grafana schema round trip: %d differences" % len(out))
    return 1 if out else 0


if __name__ == "__main__":
    sys.exit(main())
