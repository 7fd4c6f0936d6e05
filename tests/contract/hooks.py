"""Schemathesis hooks for tests/contract/run.sh.

Tidings' OpenAPI document carries no request examples, and its request schemas cannot say which
event types a server is configured with (they are `type: string`), so generated requests almost
never get past validation: notify, get and browse would only ever answer 400 and their 200
schemas would go unchecked. This hook adds OpenAPI `examples` to *request* parts only (path and
query parameters, request bodies) for the default configuration's `mars` and `test_polygon`
event types. Schemathesis' examples phase sends them, and the coverage, fuzzing and stateful
phases still generate everything else. Response schemas are never touched: what is checked is
exactly what the server documents.

run.sh seeds the store with `mars@1`, `mars@2` and `test_polygon@1` before the run; the GET
examples read `mars@1`, the DELETE examples remove `mars@2`.
"""

import sys

import schemathesis

MARS = {
    "event_type": "mars",
    "identifier": {
        "class": "od",
        "date": "20240101",
        "time": "0000",
        "step": "1",
        "domain": "g",
        "stream": "enfo",
        "expver": "0001",
    },
}
POLYGON = {
    "event_type": "test_polygon",
    "identifier": {"polygon": "(1,1,2,2,1,3,1,1)", "date": "20240101", "time": "0000"},
    "payload": {"note": "contract"},
}

# (method, path) -> {"params": {name: example}, "body": [examples]}
EXAMPLES = {
    ("post", "/api/v1/notification"): {"body": [MARS, POLYGON]},
    ("get", "/api/v1/notification/{id}"): {"params": {"id": "mars@1"}},
    ("get", "/api/v1/notifications/{event_type}"): {
        "params": {"event_type": "mars", "identifier": {"class": "od"}, "limit": 10, "dir": "asc"}
    },
    ("get", "/api/v1/schema/{event_type}"): {"params": {"event_type": "mars"}},
    ("post", "/api/v1/replay"): {
        "body": [{"event_type": "mars", "identifier": {"class": "od"}, "from_id": "1"}]
    },
    ("delete", "/api/v1/admin/notification/{id}"): {"params": {"id": "mars@2", "dry_run": True}},
    ("delete", "/api/v1/admin/notifications"): {
        "params": {"dry_run": True},
        "body": [{"ids": ["mars@2", "test_polygon@1"]}],
    },
    ("delete", "/api/v1/admin/notifications/{event_type}"): {
        "params": {"event_type": "mars", "dry_run": True},
        "body": [{"identifier": {"class": "od"}}],
    },
    ("delete", "/api/v1/admin/wipe/stream"): {
        "params": {"dry_run": True},
        "body": [{"stream_name": "mars"}],
    },
    ("delete", "/api/v1/admin/wipe/all"): {"params": {"dry_run": True}},
}


@schemathesis.hook
def before_load_schema(context, raw_schema):
    paths = raw_schema.get("paths", {})
    for (method, path), spec in EXAMPLES.items():
        operation = paths.get(path, {}).get(method)
        if operation is None:
            print(f"contract hooks: {method.upper()} {path} is not in the document", file=sys.stderr)
            continue
        for name, value in spec.get("params", {}).items():
            found = [p for p in operation.get("parameters", []) if p.get("name") == name]
            if not found:
                print(f"contract hooks: {method.upper()} {path} has no parameter {name}", file=sys.stderr)
            for parameter in found:
                parameter.setdefault("example", value)
        if "body" in spec:
            media = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if media is None:
                print(f"contract hooks: {method.upper()} {path} has no JSON body", file=sys.stderr)
                continue
            examples = media.setdefault("examples", {})
            for i, value in enumerate(spec["body"]):
                examples.setdefault(f"contract-{i}", {"value": value})
