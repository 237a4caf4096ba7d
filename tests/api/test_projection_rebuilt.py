#!/usr/bin/env python3
"""tests/api/test_projection_rebuilt.py BUILD - a gateway whose projection
belongs to another changelog rebuilds it instead of trusting it.

sr-dev runs a run on its embedded broker, stops; sr-dev starts again on the
same --data-dir with a new embedded broker (empty topics, as after the
topics were deleted and created again, or a move to another cluster). The
gateway's projection then holds offsets beyond the new changelog's ends:
trusted, its feed would skip the new records as applied (every write
waiting for its timeout: 202) and serve a run that no longer exists. It
must log the rebuild, answer a new run with 200, and list that run only.
Exits 0 on success, 1 on a failed check."""
import json
import os
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "deploy"))
from devfleet import DevFleet, http_get, http_send  # noqa: E402

failures = []


def spec():
    return json.dumps({
        "pipeline_id": str(uuid.uuid4()), "pipeline_name": "rebuilt",
        "auto_promote": True,
        "stages": [{"name": "s", "operations": [{"operation_type": "REBOOT"}],
                    "targets": [{"device_id": str(uuid.uuid4()),
                                 "device_name": "d"}]}]}).encode()


def create(dev):
    token = dev.lines["token"].split()[0]
    s, body = http_send(dev.lines["http"] + "/v0/runs/", "POST", spec(),
                        token, timeout=30)
    return s, body, token


def main():
    build = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="sr-proj-rebuilt-") as tmp:
        dev = DevFleet(build, tmp, ["--workers", "1", "--agent", "on"])
        try:
            for _ in range(3):
                s, body, _ = create(dev)
                if s != 200:
                    failures.append("first fleet: POST %d %s" % (s, body[:200]))
        finally:
            dev.close()
        dev = DevFleet(build, tmp, ["--workers", "1", "--agent", "on"])
        try:
            s, body, token = create(dev)
            if s != 200:
                failures.append("second fleet (new broker, same data dir): "
                                "POST %d %s" % (s, body[:200]))
            new_id = json.loads(body)["content"].get("id") if s == 200 \
                else None
            s, body = http_get(dev.lines["http"] + "/v0/runs/?limit=10",
                               headers={"Authorization": "Bearer " + token})
            ids = [r["id"] for r in json.loads(body)["content"]["results"]] \
                if s == 200 else []
            if ids != [new_id]:
                failures.append("second fleet lists runs %s, want only the "
                                "new one %s" % (ids, new_id))
        finally:
            dev.close()
        log = open(os.path.join(tmp, "dev.log")).read()
        if "the projection is ahead of the changelog" not in log:
            failures.append("no log line saying the projection was rebuilt")
    for f in failures:
        print("FAIL " + f)
    print("projection_rebuilt: %s" % ("FAILED" if failures else "OK"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
