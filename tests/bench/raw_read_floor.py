#!/usr/bin/env python3
"""A one-off beside bench_restore.py: how fast a plain Python consumer reads a
partition of 1,000,000 synthetic records of the changelog's average size
(~420 B on disk: a short key, a 400-byte value) on a fresh broker of
this machine, written in big batches (linger 50 ms), in batches of 20 (a
flush every 20 records), and in batches of 20 with one header per record
like the changelog's batch id, each read with the default fetch sizes and
with 16 MB ones.

  BUILD/venv/bin/python tests/bench/raw_read_floor.py BUILD

(the bench venv: tests/bench/venv.sh BUILD). Starts and stops its broker
(BUILD/rawx-state, sr.* topics of one partition; the records go to
sr.commands, sr.results and sr.events, no worker runs).
"""
import os
import re
import subprocess
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition

KAFKA_SH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                        "..", "scripts", "kafka.sh")
N = 1000000


def produce(boot, topic, linger, small, headers=None):
    p = Producer({"bootstrap.servers": boot, "linger.ms": linger,
                  "batch.size": 1000000,
                  "queue.buffering.max.messages": 2000000})
    v = os.urandom(200).hex().encode()
    t = time.monotonic()
    for i in range(N):
        while True:
            try:
                p.produce(topic, key=b"k%d" % i, value=v, partition=0,
                          headers=headers)
                break
            except BufferError:
                p.poll(0.01)
        if small and i % 20 == 19:
            p.flush()
    p.flush()
    return time.monotonic() - t


def read(boot, topic, extra):
    c = Consumer({"bootstrap.servers": boot, "group.id": "rawx",
                  "enable.auto.commit": False, "fetch.wait.max.ms": 10,
                  **extra})
    c.assign([TopicPartition(topic, 0, 0)])
    t, n = time.monotonic(), 0
    while n < N and time.monotonic() - t < 120:
        for m in c.consume(10000, 1.0):
            if not m.error():
                n += 1
    dt = time.monotonic() - t
    c.close()
    return n / dt


def main():
    state = os.path.join(os.path.abspath(sys.argv[1]), "rawx-state")
    out = subprocess.run([KAFKA_SH, "start", state, "0", "1"],
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    boot = re.search(r"bootstrap\.servers=(\S+)", out).group(1)
    try:
        print(f"big batches: produced in {produce(boot, 'sr.commands', 50, False):.1f} s")
        print(f"batches of 20: produced in {produce(boot, 'sr.results', 0, True):.1f} s")
        hdr = [("sr-batch", b"5f0c7a4e-7c1b-4d0e-9a57-0f1e2d3c4b5a/17")]
        print(f"batches of 20, one header each: produced in "
              f"{produce(boot, 'sr.events', 0, True, hdr):.1f} s")
        for topic in ("sr.commands", "sr.results", "sr.events"):
            for extra in ({}, {"max.partition.fetch.bytes": 16777216,
                               "fetch.max.bytes": 67108864}):
                print(f"{topic} {extra or 'default fetch sizes'}: "
                      f"{read(boot, topic, extra):,.0f} records/s")
    finally:
        subprocess.run([KAFKA_SH, "stop", state])


if __name__ == "__main__":
    main()
