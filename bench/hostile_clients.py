#!/usr/bin/env python3
"""Memory a Tidings process gives to hostile clients: big browse pages and silent watchers.

Usage: bench/hostile_clients.py PID URL [NOTIFICATIONS [PART]]
PART is `od`, `rd` or `silent` (default: all three; the RSS a process gave back to the
allocator is not returned to the system, so measure one part per fresh process).
Against a running instance on loopback (URL) whose process is PID:
1. publishes NOTIFICATIONS (default 20000) `mars` notifications of 4 KB each, the older
   half with class `od`, the newer half with class `rd`;
2. browse: sends three concurrent `GET /api/v1/notifications/mars?class=...&limit=1000`
   (newest first) and reports the peak RSS growth, for `rd` (the newest match) and for `od`
   (every match is behind thousands that do not: the windows read back grow large);
3. silent watchers: opens 20 watches that read their opening frame and then nothing,
   publishes 200 notifications of 64 KB, and reports the RSS growth and how many of those
   connections the server still holds 20 s later (start the server with a short
   `sse.max_duration`, e.g. TIDINGS__SSE__MAX_DURATION=5s, to see that rule too).
Prints one JSON line per part. Every request goes to URL only; counts and time are bounded.
"""
import concurrent.futures
import json
import socket
import sys
import time
import urllib.parse
import urllib.request


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field}")


def post(url, body):
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def identifier(step, kind="od"):
    return {"class": kind, "expver": "1", "domain": "g", "date": "2025-07-06",
            "time": "12", "stream": "enfo", "step": step}


def publish(url, first, count, size, kind="od"):
    blob = "x" * size
    def one(step):
        post(f"{url}/api/v1/notification",
             {"event_type": "mars", "identifier": identifier(step, kind), "payload": {"blob": blob}})
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(first, first + count)))


def browse(pid, url, kind):
    time.sleep(1)
    before = status_kib(pid, "VmRSS")
    peak = before
    page = f"{url}/api/v1/notifications/mars?class={kind}&limit=1000"
    def fetch(_):
        with urllib.request.urlopen(page, timeout=120) as response:
            return len(json.loads(response.read())["models"])
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        pending = [pool.submit(fetch, n) for n in range(3)]
        while not all(job.done() for job in pending):
            peak = max(peak, status_kib(pid, "VmRSS"))
            time.sleep(0.005)
        models = [job.result() for job in pending]
    return {"part": f"browse class={kind}", "requests": 3, "limit": 1000, "models": models,
            "rss_before_kib": before, "rss_peak_kib": peak, "growth_mib": round((peak - before) / 1024, 1)}


def silent_watchers(pid, url, parsed):
    body = json.dumps({"event_type": "mars", "identifier": {"class": "od"}}).encode()
    request = (
        f"POST /api/v1/watch HTTP/1.1\r\nHost: {parsed.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    before = status_kib(pid, "VmRSS")
    sockets = []
    for _ in range(20):
        connection = socket.socket()
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        connection.settimeout(10)
        connection.connect((parsed.hostname, parsed.port))
        connection.sendall(request)
        seen = b""
        while b"connection_established" not in seen:
            seen += connection.recv(4096)
        sockets.append(connection)
    publish(url, 50_000, 200, 64 * 1024)
    time.sleep(2)
    loaded = status_kib(pid, "VmRSS")
    time.sleep(18)
    still_open = 0
    for connection in sockets:
        connection.setblocking(False)
        try:
            # Drain what the kernel holds; an open connection then has nothing (EAGAIN),
            # a closed one ends with EOF or a reset.
            while True:
                chunk = connection.recv(1 << 16)
                if not chunk:
                    break
        except BlockingIOError:
            still_open += 1
        except OSError:
            pass
        connection.close()
    return {"part": "silent_watchers", "watchers": 20, "published": 200, "size": 65536,
            "rss_before_kib": before, "rss_loaded_kib": loaded,
            "growth_mib": round((loaded - before) / 1024, 1), "still_open_after_20s": still_open}


def main():
    pid, url = int(sys.argv[1]), sys.argv[2].rstrip("/")
    notifications = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
    parts = sys.argv[4:] or ["rd", "od", "silent"]
    parsed = urllib.parse.urlparse(url)
    assert parsed.hostname in ("127.0.0.1", "localhost", "::1"), "loopback only"
    publish(url, 1, notifications // 2, 4096, "od")
    publish(url, 1, notifications - notifications // 2, 4096, "rd")
    for kind in ("rd", "od"):
        if kind in parts:
            print(json.dumps(browse(pid, url, kind)), flush=True)
    if "silent" in parts:
        print(json.dumps(silent_watchers(pid, url, parsed)), flush=True)


if __name__ == "__main__":
    main()
