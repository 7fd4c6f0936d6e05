#!/usr/bin/env python3
"""Resident memory of a Tidings process per idle watcher.

Usage: bench/idle_watchers.py PID URL [COUNT]
Opens COUNT (default 1000) idle POST /api/v1/watch streams to URL (loopback only), reads
each opening frame, measures the server's RSS (from /proc/PID/status) before and after,
prints one JSON line, then closes every connection.
"""
import json
import socket
import sys
import time
import urllib.parse


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main():
    pid, url = int(sys.argv[1]), sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    parsed = urllib.parse.urlparse(url)
    assert parsed.hostname in ("127.0.0.1", "localhost", "::1"), "loopback only"
    body = json.dumps({"event_type": "mars", "identifier": {"class": "od"}}).encode()
    request = (
        f"POST /api/v1/watch HTTP/1.1\r\nHost: {parsed.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    time.sleep(0.5)
    before = rss_kib(pid)
    sockets = []
    deadline = time.monotonic() + 120
    for _ in range(count):
        connection = socket.create_connection((parsed.hostname, parsed.port), timeout=10)
        connection.sendall(request)
        received = b""
        while b"connection_established" not in received:
            received += connection.recv(65536)
        sockets.append(connection)
        assert time.monotonic() < deadline, "too slow"
    time.sleep(1.0)
    after = rss_kib(pid)
    print(json.dumps({
        "scenario": "idle_watchers",
        "watchers": count,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "kib_per_watcher": round((after - before) / count, 2),
    }))
    for connection in sockets:
        connection.close()


if __name__ == "__main__":
    main()
