#!/usr/bin/env python3
"""Drive a running Tidings server with ECMWF's official Python client, pyaviso.

Usage: TIDINGS_URL=http://127.0.0.1:PORT python pyaviso_compat.py
(tests/compat/run.sh starts a server, installs pyaviso and runs this.)

Everything goes through pyaviso's own API (AvisoClient.notify / listen / delete_notification /
schema), so what is checked is what a real pyaviso user sees. Each step prints one line; the
first failure prints a FAIL line and exits 1. Every wait has a timeout and a watchdog ends the
run after TOTAL_BUDGET seconds. Only loopback addresses are contacted.

pyaviso semantics worth knowing (2.4.2):
- listen(start_from=N) with an int means "after sequence N": the client sends from_id = N+1.
  So "replay from sequence 1" is start_from=0 (from_id "1").
- listen(start_from="<date>") sends the string unchanged as from_date.
- mode="replay_only" uses POST /api/v1/replay; a watch with start_from uses POST /api/v1/watch
  with from_id (replay_started first, then live); a plain watch is POST /api/v1/watch.
- listen() returns at once; the stream opens in a background task. The client logs
  "Aviso stream confirmed" (logger aviso.watch.supervisor.connection, DEBUG) when the opening
  frame arrived; the test waits for that before publishing to a live watch.
"""

import datetime
import logging
import os
import queue
import sys
import threading
import time
import urllib.parse
import uuid

TOTAL_BUDGET = 55.0  # seconds, whole run
STEP_TIMEOUT = 15.0  # seconds, one replay or one awaited notification
OPEN_TIMEOUT = 10.0  # seconds, a watch's opening confirmation (the client's own deadline)

BASE_URL = os.environ.get("TIDINGS_URL", "http://127.0.0.1:8000").rstrip("/")
EVENT = "mars"
RUN = uuid.uuid4().hex[:12]  # tags this run's payloads: the server may hold older data
T0 = time.monotonic()
STARTED_AT = datetime.datetime.now(datetime.timezone.utc)

passed = 0


def say(msg):
    print(msg, flush=True)


def finish(code):
    sys.stdout.flush()
    sys.stderr.flush()
    # os._exit: never wait for the client's background tasks or daemon threads.
    os._exit(code)


class Failure(Exception):
    pass


def fail(msg):
    raise Failure(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def ok(step, detail):
    global passed
    passed += 1
    say(f"ok   {step}: {detail}")


# ---------------------------------------------------------------------------------------------
# Safety: loopback only, no proxies, no credentials or config picked up from the environment.

_host = urllib.parse.urlsplit(BASE_URL).hostname or ""
if not (_host.startswith("127.") or _host in ("localhost", "::1")):
    say(f"FAIL setup: TIDINGS_URL must point at a loopback address, got {BASE_URL!r}")
    say("pyaviso: 0 passed, 1 failed")
    finish(2)
for _name in list(os.environ):
    if _name.upper() in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY") or _name.startswith("AVISO_"):
        del os.environ[_name]
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost,::1"


def _watchdog():
    time.sleep(TOTAL_BUDGET)
    say(f"FAIL watchdog: the run took longer than {TOTAL_BUDGET:.0f} s")
    say(f"pyaviso: {passed} passed, 1 failed")
    finish(1)


threading.Thread(target=_watchdog, daemon=True).start()

# ---------------------------------------------------------------------------------------------
# The client's Rust log records reach Python logging (pyo3-log). Configure before the first
# client exists: pyo3-log caches levels.


class _ClientLog(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.confirmed = 0
        self.cond = threading.Condition()  # not self.lock: logging holds that around emit()
        self.warnings = []

    def emit(self, record):
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - a log record must never break the test
            return
        with self.cond:
            if "stream confirmed" in msg or "client.watch.subscribed" in msg:
                self.confirmed += 1
                self.cond.notify_all()
            # client.resume.collision: the client's note that two listeners with the same
            # filter overlap (a closed replay is released a moment later); harmless here, no
            # state store is used.
            if record.levelno >= logging.WARNING and "client.resume.collision" not in msg:
                self.warnings.append(f"{record.name}: {msg}")

    def count(self):
        with self.cond:
            return self.confirmed

    def wait_confirmed(self, count, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.confirmed < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True


client_log = _ClientLog()
for _logger_name in ("aviso", "pyaviso"):
    _lg = logging.getLogger(_logger_name)
    _lg.setLevel(logging.DEBUG)
    _lg.addHandler(client_log)
    _lg.propagate = False

try:
    import pyaviso
except ImportError as e:
    say(f"FAIL setup: cannot import pyaviso ({e}); run tests/compat/run.sh or pip install pyaviso")
    say("pyaviso: 0 passed, 1 failed")
    finish(2)

client = pyaviso.AvisoClient(
    base_url=BASE_URL,
    auth=pyaviso.Anonymous(),
    timeout=10.0,
    user_agent=f"aviso/{pyaviso.__version__} tidings-compat",
)

# ---------------------------------------------------------------------------------------------
# Helpers


def identifier(step):
    return {
        "class": "od",
        "expver": "1",
        "domain": "g",
        "date": "20250706",
        "time": "1200",
        "stream": "enfo",
        "step": step,
    }


def publish(step):
    resp = client.notify(
        event_type=EVENT, identifier=identifier(step), payload={"run": RUN, "step": step}
    )
    check(resp.status == "success", f"notify step {step}: status {resp.status!r}")
    check(bool(resp.request_id), f"notify step {step}: empty request_id")
    check(bool(resp.processed_at), f"notify step {step}: empty processed_at")
    return resp


def ours(notifications):
    return [
        n
        for n in notifications
        if isinstance(n.payload, dict) and n.payload.get("run") == RUN
    ]


def ce_id(n):
    ce = n.cloudevent or {}
    return ce.get("id")


def check_notification(n, where):
    want = f"{EVENT}@{n.sequence}"
    check(n.event_type == EVENT, f"{where}: event_type {n.event_type!r}, want {EVENT!r}")
    check(ce_id(n) == want, f"{where}: CloudEvent id {ce_id(n)!r}, want {want!r}")
    step = n.payload.get("step")
    ident = n.identifier or {}
    check(
        str(ident.get("step")) == str(step) and ident.get("class") == "od",
        f"{where}: identifier {ident!r} does not match the published step {step}",
    )
    ce = n.cloudevent or {}
    check(
        ce.get("specversion") == "1.0" and str(ce.get("type", "")).endswith(EVENT),
        f"{where}: CloudEvent envelope {ce!r}",
    )


def drain(it, timeout):
    """Reads a finite listener (replay_only) to its end within `timeout` seconds.

    Returns the notifications; re-raises what pyaviso raised; raises TimeoutError (with the
    count read so far) when the stream did not end in time.
    """
    out, err = [], []

    def reader():
        try:
            for n in it:
                out.append(n)
        except BaseException as e:  # noqa: BLE001 - re-raised in the main thread
            err.append(e)

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    th.join(timeout)
    if th.is_alive():
        it.close()
        th.join(2)
        raise TimeoutError(len(out))
    it.close()
    if err:
        raise err[0]
    return out


def run_iterator(it, timeout, what):
    try:
        return drain(it, timeout)
    except TimeoutError as e:
        fail(
            f"{what}: the stream did not end within {timeout:.0f} s after {e.args[0]} "
            "notification(s) (pyaviso ends a replay on replay_completed + connection-closing "
            f"end_of_stream){warnings_tail()}"
        )
    except pyaviso.AvisoError as e:
        fail(f"{what}: pyaviso raised {type(e).__name__}: {e}{warnings_tail()}")


def replay(start_from, what, filt=None):
    it = client.listen(
        EVENT, filter=filt or {"class": "od"}, start_from=start_from, mode="replay_only"
    )
    return run_iterator(it, STEP_TIMEOUT, what)


class LiveWatch:
    """A watch read in a thread; notifications reach the main thread through a queue.

    Uses a Trigger.function (pyaviso's callback trigger) as well as the iterator, so both the
    listener and the trigger paths are exercised.
    """

    def __init__(self, name, filt, start_from=None):
        self.name = name
        self.q = queue.Queue()
        self.triggered = []
        self.error = []
        self.it = client.listen(
            EVENT,
            filter=filt,
            start_from=start_from,
            triggers=[pyaviso.Trigger.function(self.triggered.append, label=name)],
        )
        self.th = threading.Thread(target=self._read, daemon=True)
        self.th.start()

    def _read(self):
        try:
            for n in self.it:
                self.q.put(n)
        except BaseException as e:  # noqa: BLE001 - reported in the main thread
            self.error.append(e)
            self.q.put(e)

    def next_ours(self, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                fail(f"{what}: nothing arrived within {timeout:.0f} s{warnings_tail()}")
            try:
                item = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if isinstance(item, BaseException):
                fail(f"{what}: pyaviso raised {type(item).__name__}: {item}{warnings_tail()}")
            if ours([item]):
                return item

    def healthy(self, what):
        if self.error:
            e = self.error[0]
            fail(f"{what}: the {self.name} watch raised {type(e).__name__}: {e}{warnings_tail()}")
        check(self.th.is_alive(), f"{what}: the {self.name} watch ended unexpectedly")

    def close(self):
        self.it.close()
        self.th.join(5)


def warnings_tail():
    if not client_log.warnings:
        return ""
    return "; client warnings: " + " | ".join(client_log.warnings[-5:])


def expect_http_error(fn, status_range, what, timeout=STEP_TIMEOUT):
    """Runs fn in a thread; it must raise pyaviso.HttpError with a status in status_range."""
    res = []

    def runner():
        try:
            fn()
            res.append(None)
        except BaseException as e:  # noqa: BLE001
            res.append(e)

    th = threading.Thread(target=runner, daemon=True)
    th.start()
    th.join(timeout)
    if th.is_alive():
        fail(f"{what}: no answer within {timeout:.0f} s (pyaviso retries a 5xx; a validation "
             f"error must be a 4xx){warnings_tail()}")
    e = res[0]
    if e is None:
        fail(f"{what}: succeeded, expected an HTTP error")
    if isinstance(e, TimeoutError):
        fail(f"{what}: the stream neither failed nor ended within {timeout:.0f} s "
             f"(expected an HTTP 4xx){warnings_tail()}")
    if not isinstance(e, pyaviso.HttpError):
        fail(f"{what}: raised {type(e).__name__}: {e}, expected pyaviso.HttpError")
    check(e.status in status_range, f"{what}: HTTP {e.status}, expected {status_range}: {e.body}")
    return e


# ---------------------------------------------------------------------------------------------
# The steps


def main():
    say(f"pyaviso {pyaviso.__version__} (core {pyaviso.VERSION}) against {BASE_URL}, run {RUN}")
    live = resume = None
    try:
        # 1. Schema discovery.
        catalog = client.schema()
        check(EVENT in catalog.event_types, f"schema: {EVENT!r} not in {catalog.event_types}")
        sch = client.schema_for(EVENT).schema
        cls = (sch.get("identifier") or {}).get("class") or {}
        check(cls.get("required") is True, f"schema_for({EVENT!r}): class not required: {sch}")
        ok("schema", f"{len(catalog.event_types)} event types, {EVENT} requires class")

        # 2. What is already there (an empty history must still replay and end cleanly).
        before = replay(0, "baseline replay")
        fresh = not before
        last_before = max((n.sequence for n in before), default=0)
        ok("baseline", f"{len(before)} notification(s) already stored"
           + (" (fresh server)" if fresh else f", last mars@{last_before}"))

        # 3. Publish three.
        for step in (1, 2, 3):
            publish(step)
        ok("notify", "3 mars notifications published (status, request_id, processed_at present)")

        # 4. Replay from sequence 1: start_from=0 -> from_id "1".
        got = ours(replay(0, "replay from_id=1"))
        check(
            [n.payload["step"] for n in got] == [1, 2, 3],
            f"replay from_id=1: got steps {[n.payload['step'] for n in got]} of this run, "
            "want [1, 2, 3]",
        )
        for n in got:
            check_notification(n, "replay from_id=1")
        seqs = [n.sequence for n in got]
        check(seqs == sorted(seqs) and len(set(seqs)) == 3, f"replay: sequences {seqs} not increasing")
        check(seqs[0] > last_before, f"replay: sequence {seqs[0]} not after the baseline {last_before}")
        if fresh:
            check(seqs == [1, 2, 3], f"replay: fresh server gave sequences {seqs}, want [1, 2, 3]")
        ids = [ce_id(n) for n in got]
        ok("replay from_id", f"got {', '.join(ids)}")

        # 4b. start_from=<first sequence> (from_id = first + 1) skips the first one.
        got = ours(replay(seqs[0], f"replay from_id={seqs[0] + 1}"))
        check(
            [n.sequence for n in got] == seqs[1:],
            f"replay from_id={seqs[0] + 1}: got {[ce_id(n) for n in got]}, want {ids[1:]}",
        )
        ok("replay resume", f"from_id={seqs[0] + 1} starts at {ids[1]}")

        # 5. Replay from a date: a minute before the test started, six fractional digits.
        since = (STARTED_AT - datetime.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        got = ours(replay(since, f"replay from_date={since}"))
        check(
            [ce_id(n) for n in got] == ids,
            f"replay from_date={since}: got {[ce_id(n) for n in got]}, want {ids}",
        )
        ok("replay from_date", f"from_date={since} returned {len(got)} of this run's notifications")

        # 6. Live watch in a thread, with a function trigger; wait for the opening confirmation.
        opened = client_log.count()
        live = LiveWatch("live", {"class": "od"})
        if not client_log.wait_confirmed(opened + 1, OPEN_TIMEOUT):
            fail(f"live watch: no opening confirmation within {OPEN_TIMEOUT:.0f} s (pyaviso needs "
                 f"live-notification connection_established first){warnings_tail()}")
        publish(4)
        n4 = live.next_ours(STEP_TIMEOUT, "live watch")
        check(n4.payload.get("step") == 4, f"live watch: got step {n4.payload.get('step')}, want 4")
        check_notification(n4, "live watch")
        check(n4.sequence > seqs[-1], f"live watch: sequence {n4.sequence} not after {seqs[-1]}")
        deadline = time.monotonic() + 5
        while not ours(live.triggered) and time.monotonic() < deadline:
            time.sleep(0.05)
        check(ours(live.triggered), "live watch: the Trigger.function callback was not called")
        ok("watch live", f"received {ce_id(n4)} (iterator and Trigger.function)")

        # 7. Resume watch (watch mode with start_from): /watch with from_id, replay then live.
        opened = client_log.count()
        resume = LiveWatch("resume", {"class": "od", "stream": "enfo"}, start_from=seqs[-1])
        if not client_log.wait_confirmed(opened + 1, OPEN_TIMEOUT):
            fail(f"resume watch: no opening confirmation within {OPEN_TIMEOUT:.0f} s "
                 f"(pyaviso needs replay-control replay_started first){warnings_tail()}")
        r4 = resume.next_ours(STEP_TIMEOUT, f"resume watch from_id={seqs[-1] + 1}")
        check(r4.sequence == n4.sequence,
              f"resume watch: first of this run is {ce_id(r4)}, want {ce_id(n4)}")
        publish(5)
        r5 = resume.next_ours(STEP_TIMEOUT, "resume watch, live part")
        l5 = live.next_ours(STEP_TIMEOUT, "live watch, second notification")
        check(r5.sequence == l5.sequence and r5.payload.get("step") == 5,
              f"resume/live watch: got {ce_id(r5)} and {ce_id(l5)} for step 5")
        ok("watch resume", f"from_id={seqs[-1] + 1}: replayed {ce_id(r4)}, then live {ce_id(r5)}")

        # 8. Delete the second notification by the id the client received.
        victim = ids[1]
        client.delete_notification(victim)
        time.sleep(0.5)  # Tidings tells open watches (notification-deleted); they must not break
        live.healthy("after delete")
        resume.healthy("after delete")
        got = ours(replay(0, "replay after delete"))
        got_ids = [ce_id(n) for n in got]
        want_ids = [i for i in ids if i != victim] + [ce_id(n4), ce_id(r5)]
        check(victim not in got_ids, f"delete {victim}: a later replay still returns it ({got_ids})")
        check(got_ids == want_ids, f"replay after delete: got {got_ids}, want {want_ids}")
        ok("delete", f"{victim} deleted; replay now returns {', '.join(got_ids)}")

        e = expect_http_error(lambda: client.delete_notification(victim), range(404, 405),
                              f"delete {victim} again")
        ok("delete again", f"HTTP {e.status} (pyaviso HttpError)")

        live.healthy("end")
        resume.healthy("end")
        for w in (live, resume):
            w.close()
        live = resume = None
        ok("close", "both watches still healthy, closed")

        # 9. Validation errors are 4xx, so the client stops instead of retrying.
        e = expect_http_error(
            lambda: client.notify(event_type=EVENT, identifier={"class": "od"}, payload=None),
            range(400, 500), "notify with missing keys")
        e2 = expect_http_error(
            lambda: drain(client.listen(EVENT, filter={"step": 1}), STEP_TIMEOUT),
            range(400, 500), "watch without class")
        e3 = expect_http_error(
            lambda: drain(client.listen("no_such_event", filter={"class": "od"},
                                        start_from=0, mode="replay_only"), STEP_TIMEOUT),
            range(400, 500), "replay of an unknown event type")
        ok("errors", f"notify {e.status}, watch {e2.status}, replay {e3.status}: 4xx, no retry")
    except Failure as f:
        say(f"FAIL {f}")
        say(f"pyaviso: {passed} passed, 1 failed")
        return 1
    except pyaviso.AvisoError as e:
        say(f"FAIL pyaviso raised {type(e).__name__}: {e}{warnings_tail()}")
        say(f"pyaviso: {passed} passed, 1 failed")
        return 1
    finally:
        for w in (live, resume):
            if w is not None:
                try:
                    w.it.close()
                except Exception:  # noqa: BLE001
                    pass
    say(f"done in {time.monotonic() - T0:.1f} s")
    if client_log.warnings:
        say("note client warnings: " + " | ".join(client_log.warnings[-5:]))
    say(f"pyaviso: {passed} passed, 0 failed")
    return 0


if __name__ == "__main__":
    finish(main())
