#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# HTTP prober of experiments/run, started in the cluster's switch namespace
# (the "host" side of the bridge): every PERIOD seconds it sends GET / to each
# ADDR:PORT (one thread per address, so a hung server does not delay the
# others) with a 250 ms timeout and prints one line per change of state,
# "EPOCH_SECONDS ADDR up|down", flushed at once.  experiments/run reads the
# first "up" of the new node after a fault as "service restored".
# usage: prober.py PORT PERIOD ADDR...
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


def watch(addr, port, period):
    state = None
    while True:
        ok = get(addr, port, 0.25)
        if state != ok:
            state = ok
            with LOCK:
                print("%.3f %s %s" % (time.time(), addr, "up" if ok else "down"), flush=True)
        time.sleep(period)


def main():
    port, period, addrs = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
    threads = [threading.Thread(target=watch, args=(a, port, period), daemon=True)
               for a in addrs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
