#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# HTTP prober of experiments/run, run on the host: every PERIOD seconds it
# sends GET / to each target (one thread per target, so a hung server does
# not delay the others) with a 250 ms timeout and prints one line per change
# of state, "EPOCH_SECONDS NAME up|down", flushed at once.  A target is up
# when it answers 200.  experiments/run reads the first "up" of the new
# node's guest after a fault as "service restored".
# usage: prober.py PERIOD NAME=ADDR:PORT...
import socket
import sys
import threading
import time

LOCK = threading.Lock()


def get(addr, port, timeout):
    try:
        with socket.create_connection((addr, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            data = s.recv(256)
            return data.startswith(b"HTTP/1.") and b" 200 " in data.split(b"\r\n", 1)[0]
    except OSError:
        return False


def watch(name, addr, port, period):
    state = None
    while True:
        ok = get(addr, port, 0.25)
        if state != ok:
            state = ok
            with LOCK:
                print("%.3f %s %s" % (time.time(), name, "up" if ok else "down"), flush=True)
        time.sleep(period)


def parse(target):
    """NAME=ADDR:PORT -> (name, addr, port); SystemExit on a bad one."""
    name, eq, rest = target.partition("=")
    addr, colon, port = rest.rpartition(":")
    if not (eq and colon and name and addr and port.isdigit()):
        sys.exit("prober: bad target %r (NAME=ADDR:PORT)" % target)
    return name, addr, int(port)


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: prober.py PERIOD NAME=ADDR:PORT...")
    period = float(sys.argv[1])
    threads = [threading.Thread(target=watch, args=parse(t) + (period,), daemon=True)
               for t in sys.argv[2:]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
