#!/usr/bin/env python3
"""An open stage's digests (docs/targets.md sections 2 and 9) from an
independent implementation: Python's hashlib over fastavro's encoding of
the `targets` array schema of command.avsc's AppendTargets branch, against
the C code (common/codec/sr_digest.c) through sr-chunk-digest
(tests/tools/chunk_digest.c).

Usage: digest_check.py BUILD_DIR
  (run by tests/registry/run.sh, whose venv has fastavro; the tool is
  $SR_CHUNK_DIGEST, else BUILD_DIR/tests/sr-chunk-digest)

A chunk's digest is SHA-256 over the Avro binary encoding of its targets
array (fastavro.schemaless_writer); a stage's is SHA-256 over its chunks'
digests in chunk order. Cases, each a check that fails if C and Python
differ:
  1. a stage of fixed chunks: two known targets (the unit test's vector,
     pinned here too), an empty chunk (SHA-256 of 0x00), non-ASCII names
     (2-, 3- and 4-byte UTF-8, combining marks, names of exactly 255
     bytes), null and non-null target ids, 64 targets (the count's varint
     goes to two bytes), 1,000 seeded random targets; every chunk digest
     and the seal;
  2. the same chunks in reverse order: each chunk's digest unchanged, the
     seal another, still equal;
  3. a stage of no chunks: SHA-256 of nothing;
  4. the C side's conventions: uuids given in upper case are hashed as
     their canonical lower-case text, a nil target_id as null;
  5. a 256-byte device_name or device_alias, which fastavro writes, is
     refused by the C side naming the item and field (names are at most
     255 bytes).
Exits 0 when every case holds, 1 otherwise.
"""
import copy
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import uuid

import fastavro

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EMPTY_CHUNK = ("6e340b9cffb37a989ca544e6bb780a2c"
               "78901d3fb33738768511a30617afa01d")
NO_CHUNKS = ("e3b0c44298fc1c149afbf4c8996fb924"
             "27ae41e4649b934ca495991b7852b855")
# tests/unit/codec/test_sr_digest.c, known_chunk_and_seals
KNOWN_CHUNK = ("42e4da431cf66078f2769b08633e754c"
               "83019d69b8d6236a97c704333b9f0748")
failures = []


def expect(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def targets_schema():
    """The AppendTargets branch's `targets` field type, its item type (a
    reference to SpecTarget, defined in CreateRun) resolved by fastavro from
    the whole Command schema."""
    with open(os.path.join(ROOT, "schemas", "command.avsc"),
              encoding="utf-8") as f:
        command = json.load(f)
    named = {}
    fastavro.parse_schema(copy.deepcopy(command), named_schemas=named)
    payload = next(f for f in command["fields"] if f["name"] == "payload")
    append = next(b for b in payload["type"]
                  if isinstance(b, dict) and b.get("name") == "AppendTargets")
    arr = copy.deepcopy(next(f for f in append["fields"]
                             if f["name"] == "targets")["type"])
    if isinstance(arr["items"], str) and "." not in arr["items"]:
        arr["items"] = command["namespace"] + "." + arr["items"]
    return fastavro.parse_schema(arr, named_schemas=named, expand=True)


SCHEMA = targets_schema()


def py_chunk(items):
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, SCHEMA, [
        {"target_id": None if t["target_id"] is None
         else str(uuid.UUID(t["target_id"])),
         "device_id": str(uuid.UUID(t["device_id"])),
         "device_name": t["device_name"],
         "device_alias": t["device_alias"]} for t in items])
    return hashlib.sha256(buf.getvalue()).hexdigest()


def py_seal(hexes):
    return hashlib.sha256(b"".join(bytes.fromhex(h) for h in hexes)) \
        .hexdigest()


def tool():
    exe = os.environ.get("SR_CHUNK_DIGEST") or os.path.join(
        sys.argv[1] if len(sys.argv) > 1 else ".", "tests", "sr-chunk-digest")
    if not os.access(exe, os.X_OK):
        sys.exit(f"digest_check: no sr-chunk-digest at {exe}")
    return exe


def c_run(chunks, c_items=None):
    """sr-chunk-digest over @chunks (as given to it: @c_items, else the
    chunks themselves): (exit code, [(count, hex)], seal hex, stderr)."""
    lines = "".join(json.dumps(c, ensure_ascii=False) + "\n"
                    for c in (c_items or chunks))
    p = subprocess.run([tool()], input=lines.encode("utf-8"),
                       capture_output=True, timeout=60)
    out = p.stdout.decode().splitlines()
    got, seal = [], None
    for i, line in enumerate(out):
        w = line.split()
        if w[0] == "chunk" and int(w[1]) == len(got):
            got.append((int(w[2]), w[3]))
        elif w[0] == "seal" and int(w[1]) == len(got):
            seal = w[2]
        elif w[0] != "refused":
            sys.exit(f"digest_check: unexpected line {line!r}")
    if p.returncode == 2:
        sys.exit(f"digest_check: sr-chunk-digest failed: "
                 f"{p.stderr.decode().strip()}")
    return p.returncode, got, seal, p.stderr.decode()


def target(rng, target_id=True, name=None, alias=None):
    return {"target_id": str(uuid.UUID(int=rng.getrandbits(128)))
            if target_id else None,
            "device_id": str(uuid.UUID(int=rng.getrandbits(128))),
            "device_name": name if name is not None else
            f"dev-{rng.getrandbits(32):08x}",
            "device_alias": alias if alias is not None else ""}


# Characters of 1 to 4 UTF-8 bytes, a combining mark among them.
ALPHABET = "az09-_ .éßøЖж東京界中\u0301🚪🛰️"


def utf8_text(rng, max_bytes):
    """Random text of at most @max_bytes UTF-8 bytes, whole characters."""
    want = rng.randint(0, max_bytes)
    s, n = [], 0
    while True:
        ch = rng.choice(ALPHABET)
        b = len(ch.encode())
        if n + b > want:
            break
        s.append(ch)
        n += b
    return "".join(s)


def fill(s, n):
    """@s repeated and cut to exactly @n UTF-8 bytes (whole characters,
    ASCII padding)."""
    out = ""
    while len((out + s).encode()) <= n:
        out += s
    return out + "x" * (n - len(out.encode()))


def chunks_of_stage():
    rng = random.Random(17)
    known = [
        {"target_id": None,
         "device_id": "00000000-0000-4000-8000-000000000001",
         "device_name": "lobby-1", "device_alias": ""},
        {"target_id": "11111111-2222-4333-8444-555555555555",
         "device_id": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
         "device_name": "Türschloß 東京", "device_alias": "rack 7"},
    ]
    unicode_ = [
        target(rng, True, "Türschloß-Süd", "Keller"),
        target(rng, False, "東京タワー-7F", "展望台"),
        target(rng, True, "باب-المدخل", ""),
        target(rng, False, "🚪 front door 🛰️", "e\u0301te\u0301"),
        target(rng, True, fill("東", 255), fill("é", 255)),
        target(rng, False, fill("🚪", 255), ""),
        target(rng, True, "x" * 255, "y" * 255),
        target(rng, False, "", ""),
    ]
    sixty_four = [target(rng, i % 2 == 0) for i in range(64)]
    thousand = [target(rng, rng.random() < 0.6, utf8_text(rng, 255),
                       utf8_text(rng, 255) if rng.random() < 0.5 else "")
                for _ in range(1000)]
    return [known, [], unicode_, sixty_four, thousand, [known[1]]]


def main():
    chunks = chunks_of_stage()
    py = [py_chunk(c) for c in chunks]
    expect(py[0] == KNOWN_CHUNK and py[1] == EMPTY_CHUNK,
           "0. the Python side gives the pinned vectors (known chunk, "
           "empty chunk)")

    rc, got, seal, err = c_run(chunks)
    expect(rc == 0 and len(got) == len(chunks),
           f"1. sr-chunk-digest took {len(chunks)} chunks (exit {rc}) "
           f"{err.strip()}")
    for i, c in enumerate(chunks):
        ok = i < len(got) and got[i] == (len(c), py[i])
        expect(ok, f"1. chunk {i} ({len(c)} targets): C "
               f"{got[i][1] if i < len(got) else None} = Python {py[i]}")
    expect(seal == py_seal(py), f"1. seal of {len(chunks)} chunks: C {seal} "
           f"= Python {py_seal(py)}")

    rev = list(reversed(chunks))
    rc, got_r, seal_r, _ = c_run(rev)
    expect(rc == 0 and [h for _, h in got_r] == list(reversed(py)),
           "2. the chunks reversed: every chunk's digest unchanged")
    expect(seal_r == py_seal(list(reversed(py))) and seal_r != seal,
           f"2. reversed, the seal differs and is equal: C {seal_r} = "
           f"Python {py_seal(list(reversed(py)))}")

    rc, got_0, seal_0, _ = c_run([])
    expect(rc == 0 and got_0 == [] and seal_0 == NO_CHUNKS
           and py_seal([]) == NO_CHUNKS,
           f"3. a stage of no chunks: C {seal_0} = SHA-256 of nothing")

    conv = [dict(t) for t in chunks[0]]
    upper = [dict(t, device_id=t["device_id"].upper(),
                  target_id=(t["target_id"].upper() if t["target_id"]
                             else "00000000-0000-0000-0000-000000000000"))
             for t in conv]
    rc, got_u, _, _ = c_run([conv], c_items=[upper])
    expect(rc == 0 and got_u and got_u[0][1] == py[0],
           "4. upper-case uuids hash as their canonical text, a nil "
           "target_id as null")

    for field in ("device_name", "device_alias"):
        bad = [dict(t) for t in chunks[3][:3]]
        bad[1][field] = "n" * 256
        try:
            py_chunk(bad)
            fastavro_took = True
        except Exception:  # noqa: BLE001 (any refusal)
            fastavro_took = False
        rc, got_b, _, err = c_run([chunks[0], bad])
        expect(fastavro_took and rc == 1 and len(got_b) == 1
               and f"chunk 1: targets[1]: field {field}: not NUL-terminated"
               in err,
               f"5. a 256-byte {field} (fastavro writes it): refused by "
               f"the C side: {err.strip()}")

    if failures:
        print(f"digest_check: FAILED: {len(failures)} case(s)")
        return 1
    print("digest_check: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
