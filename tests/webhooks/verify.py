"""What a receiver gets from Tidings, checked with the `standardwebhooks` library (1.1.0):
test sends to destinations in both CloudEvents modes, before and during a secret rotation,
then real deliveries of a stored notification to both.

Usage: verify.py BASE_URL SERVER_PID. Only 127.0.0.1 is contacted: Tidings and the receiver
this script starts.
"""

import json
import os
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook

BASE, PID = sys.argv[1], int(sys.argv[2])
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
RECEIVED = []
FAILURES = []


class Receiver(BaseHTTPRequestHandler):
    """Records every request and answers 204."""

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        RECEIVED.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    if data is not None:
        request.add_header("content-type", "application/json")
    try:
        with OPENER.open(request, timeout=20) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        FAILURES.append(what)


def wait_for_health():
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if call("GET", "/health")[0] == 200:
                return
        except OSError:
            pass
        try:
            os.kill(PID, 0)
        except OSError:
            sys.exit("webhooks: the server exited")
        time.sleep(0.1)
    sys.exit("webhooks: the server did not become healthy")


def register(receiver_url, fmt):
    status, created = call("POST", "/api/v1/destinations", {
        "url": receiver_url, "format": fmt,
        "subscriptions": [{"event_type": "mars", "identifier": {"class": "od"}}],
        "headers": {"X-Team": "ops"},
    })
    check(status == 201, f"{fmt}: destination registered ({status})")
    return created


def test_send(destination):
    before = len(RECEIVED)
    status, attempt = call("POST", f"/api/v1/destinations/{destination['id']}/test")
    check(status == 200 and attempt.get("status") == "success", f"test send answered with a successful attempt ({status} {attempt})")
    check(len(RECEIVED) == before + 1, "the receiver got one request")
    return RECEIVED[-1] if len(RECEIVED) > before else ({}, b"")


def verifies(secret, headers, body):
    try:
        Webhook(secret).verify(body, headers)
        return True
    except Exception as error:  # the library raises its own verification error
        print(f"     verification failed: {error}")
        return False


def main():
    wait_for_health()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    receiver_url = f"http://127.0.0.1:{server.server_address[1]}/hook"

    structured = register(receiver_url, "structured")
    headers, body = test_send(structured)
    check(headers.get("content-type") == "application/cloudevents+json", "structured: CloudEvents content type")
    event = json.loads(body or b"{}")
    check(event.get("type", "").endswith("tidings.test"), f"structured: a test CloudEvent ({event.get('type')})")
    check(headers.get("webhook-id") == event.get("id"), "webhook-id is the CloudEvent id")
    check(headers.get("x-team") == "ops", "the destination's headers arrive")
    check(headers.get("user-agent", "").startswith("Tidings/"), "User-Agent names Tidings")
    check(verifies(structured["secret"], headers, body), "structured: the signature verifies with the secret")
    check(not verifies(structured["secret"], headers, body + b" "), "a changed body does not verify")

    status, rotated = call("POST", f"/api/v1/destinations/{structured['id']}/rotate-secret", {"grace": "1h"})
    check(status == 200, "secret rotated")
    headers, body = test_send(structured)
    check(len(headers.get("webhook-signature", "").split(" ")) == 2, "during the grace both keys sign")
    check(verifies(structured["secret"], headers, body), "the old secret still verifies during the grace")
    check(verifies(rotated["secret"], headers, body), "the new secret verifies")

    binary = register(receiver_url, "binary")
    headers, body = test_send(binary)
    check(headers.get("content-type") == "application/json", "binary: JSON content type")
    check(headers.get("ce-specversion") == "1.0" and headers.get("ce-type", "").endswith("tidings.test"), "binary: ce-* attributes as headers")
    check(headers.get("webhook-id") == headers.get("ce-id"), "binary: webhook-id is ce-id")
    check(verifies(binary["secret"], headers, body), "binary: the signature verifies")

    # A stored notification goes to both destinations, each signed with its keys in force.
    status, stored = call("POST", "/api/v1/notification", {
        "event_type": "mars",
        "identifier": {"class": "od", "expver": "1", "domain": "g", "date": "2025-07-06",
                       "time": "12", "stream": "enfo", "step": 1},
        "payload": {"note": "delivered"}})
    check(status == 200, f"notification stored ({status})")
    notification = stored.get("id")
    deadline = time.monotonic() + 15
    deliveries = []
    while time.monotonic() < deadline:
        deliveries = [(h, b) for h, b in RECEIVED if h.get("webhook-id") == notification]
        if len(deliveries) >= 2:
            break
        time.sleep(0.05)
    check(len(deliveries) == 2, f"{notification} delivered to both destinations ({len(deliveries)})")
    for headers, body in deliveries:
        if headers.get("content-type") == "application/cloudevents+json":
            event = json.loads(body)
            check(event.get("id") == notification and event["data"]["payload"] == {"note": "delivered"}, "structured delivery: the notification's CloudEvent")
            check(verifies(structured["secret"], headers, body) and verifies(rotated["secret"], headers, body), "structured delivery: both keys of the grace verify")
        else:
            check(headers.get("ce-id") == notification, "binary delivery: ce-id is the notification id")
            check(verifies(binary["secret"], headers, body), "binary delivery: the signature verifies")

    server.shutdown()
    print(f"webhooks: {len(FAILURES)} failed")
    sys.exit(1 if FAILURES else 0)


main()
