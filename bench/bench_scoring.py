"""Benchmark the scoring engine: score, rank and top-k throughput, reference speed-up, memory.

Run from the repository root with `make bench` (or `.venv/bin/python
bench/bench_scoring.py [--sizes 10000,100000] [--json PATH]`). Inputs are
random but plausible (seeded): narrow dtypes as the workers load them (int8
levels, float64 ages), harm skewed low, ages in whole and fractional days with
some fresh cases, so priorities tie as they do on a real board.

Peak memory is measured in a fresh subprocess per N: the process's RSS
high-water mark (VmHWM from /proc/self/status on Linux, where getrusage's
ru_maxrss would include the parent's peak; ru_maxrss elsewhere) once the
inputs are built and again after one score_arrays call, plus tracemalloc's
peak of the allocations made inside that call (NumPy reports its array
buffers to tracemalloc).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # so `tests.scoring.reference` imports when run as a script

from scoring import (  # noqa: E402
    CONFIDENCE_LEVELS,
    INTEGER_KEYS,
    default_model,
    rank_order,
    score_arrays,
    top_k,
)

DEFAULT_SIZES = (10_000, 100_000, 1_000_000, 10_000_000)
REFERENCE_MAX_N = 100_000  # the pure-Python reference is only timed up to here
DEFAULT_JSON = ROOT / "bench" / "results" / "scoring.json"
SEED = 20240611
CHUNK = 1_000_000  # inputs are generated in chunks to keep generation temporaries small
TOP_K = 50
MIN_SAMPLE_SECONDS = 0.05  # small N: loop until one timing sample lasts this long

# Level distributions (probability of each level from the key's lowest value up).
LEVEL_PROBABILITIES: dict[str, tuple[float, ...]] = {
    "P": (0.40, 0.30, 0.17, 0.09, 0.04),
    "Ps": (0.35, 0.30, 0.20, 0.10, 0.05),
    "F": (0.30, 0.30, 0.22, 0.12, 0.06),
    "C": (0.40, 0.30, 0.17, 0.09, 0.04),
    "S": (0.40, 0.30, 0.17, 0.09, 0.04),
    "V": (0.65, 0.25, 0.10),
    "L": (0.10, 0.25, 0.35, 0.20, 0.10),
    "Cf": (0.20, 0.50, 0.30),  # L, M, H
    "Ca": (0.30, 0.45, 0.25),
    "Cb": (0.25, 0.50, 0.25),
    "O": (0.40, 0.40, 0.20),
    "T": (0.99, 0.01),
}
FRESH_SHARE = 0.15  # A = 0
WHOLE_DAY_SHARE = 0.35  # A a whole number of days; the rest fractional
MEAN_AGE_DAYS = 45.0
DEADLINE_SHARE = 0.25  # cases with an opportunity deadline (whole days)
DAY = 86_400.0
EPOCH = 1_700_000_000.0


def _levels(rng: np.random.Generator, key: str, m: int) -> np.ndarray:
    cdf = np.cumsum(LEVEL_PROBABILITIES[key])
    cdf[-1] = 1.0
    codes = np.searchsorted(cdf, rng.random(m), side="right").astype(np.int8)
    codes += np.int8(1 if key in ("S", "L") else 0)
    return codes


def _ages(rng: np.random.Generator, m: int) -> np.ndarray:
    ages = rng.exponential(MEAN_AGE_DAYS, m)
    kind = rng.random(m)
    np.floor(ages, out=ages, where=kind < FRESH_SHARE + WHOLE_DAY_SHARE)
    ages[kind < FRESH_SHARE] = 0.0
    return ages


def make_columns(n: int, seed: int = SEED) -> dict[str, np.ndarray]:
    """Plausible random score_arrays columns for n cases (int8 levels, float64 A)."""
    rng = np.random.default_rng(seed)
    columns = {key: np.empty(n, dtype=np.int8) for key in INTEGER_KEYS}
    columns["A"] = np.empty(n, dtype=np.float64)
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        for key in INTEGER_KEYS:
            columns[key][start : start + m] = _levels(rng, key, m)
        columns["A"][start : start + m] = _ages(rng, m)
    return columns


def make_board(n: int, seed: int = SEED + 1) -> dict[str, np.ndarray]:
    """Tie-break columns for a board: deadline (NaN = none), submitted and ids (epoch seconds)."""
    rng = np.random.default_rng(seed)
    ids = rng.permutation(n).astype(np.int64) + 1
    # Submission order follows id order over two years, with some jitter.
    submitted = EPOCH - 730 * DAY + ids * (730 * DAY / n) + rng.uniform(0, 3600, n)
    deadline = EPOCH + np.floor(rng.uniform(0, 60, n)) * DAY
    deadline[rng.random(n) >= DEADLINE_SHARE] = np.nan
    return {"deadline": deadline, "submitted": submitted, "ids": ids}


def time_best(fn: Callable[[], object], repeats: int) -> float:
    """Best seconds per call over `repeats` samples (small calls are looped within a sample)."""
    start = time.perf_counter()
    fn()  # warm-up, also calibrates the loop count
    first = time.perf_counter() - start
    loops = max(1, int(MIN_SAMPLE_SECONDS / max(first, 1e-9)))
    best = float("inf")
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(loops):
                fn()
            best = min(best, (time.perf_counter() - start) / loops)
    finally:
        if gc_was_enabled:
            gc.enable()
    return best


def _repeats(n: int) -> int:
    """Timing samples per measurement: more for small N, where one sample is cheap and noisy."""
    return 15 if n <= 1_000_000 else 5


def tied_share(priority: np.ndarray, threat: np.ndarray) -> float:
    """Share of cases whose (threat, priority) equals another case's (need the tie-break)."""
    key = np.sort(priority + 1000.0 * threat.astype(np.float64))
    same = key[1:] == key[:-1]
    in_run = np.zeros(key.shape[0], dtype=bool)
    in_run[1:] |= same
    in_run[:-1] |= same
    return float(in_run.mean()) if key.size else 0.0


def bench_engine(n: int) -> dict[str, Any]:
    """Time score_arrays, rank_order, score + rank and top_k on n plausible cases."""
    columns = make_columns(n)
    board = make_board(n)
    repeats = _repeats(n)
    scores = score_arrays(columns)

    def rank() -> np.ndarray:
        return rank_order(scores["priority"], columns["T"], scores["position"], **board)

    def score_and_rank() -> np.ndarray:
        fresh = score_arrays(columns)
        return rank_order(fresh["priority"], columns["T"], fresh["position"], **board)

    def first_k() -> np.ndarray:
        return top_k(TOP_K, scores["priority"], columns["T"], scores["position"], **board)

    score_s = time_best(lambda: score_arrays(columns), repeats)
    rank_s = time_best(rank, max(3, repeats // 2))
    both_s = time_best(score_and_rank, max(3, repeats // 2))
    top_s = time_best(first_k, repeats)
    if not np.array_equal(first_k(), rank()[:TOP_K]):
        raise AssertionError(f"top_k({TOP_K}) differs from rank_order[:{TOP_K}] at N={n}")
    return {
        "n": n,
        "score_s": score_s,
        "score_cases_per_s": n / score_s,
        "rank_s": rank_s,
        "score_rank_s": both_s,
        "score_rank_cases_per_s": n / both_s,
        "top_k_s": top_s,
        "tied_share": tied_share(scores["priority"], columns["T"]),
    }


def _reference_cases(columns: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    keys = [*INTEGER_KEYS, "A"]
    rows = zip(*(columns[key].tolist() for key in keys), strict=True)
    cases = [dict(zip(keys, row, strict=True)) for row in rows]
    for case in cases:
        case["Cf"] = CONFIDENCE_LEVELS[case["Cf"]]  # as a vector gives it: 'L', 'M', 'H'
    return cases


def bench_reference(n: int, engine_cases_per_s: float) -> dict[str, Any]:
    """Time the pure-Python reference on n cases and check it agrees with the engine."""
    from tests.scoring.reference import rank_reference, score_many

    model = default_model()
    columns = make_columns(n)
    cases = _reference_cases(columns)
    seconds = time_best(lambda: score_many(cases, model), 3 if n <= 10_000 else 1)
    results = score_many(cases, model)
    scores = score_arrays(columns, model=model)
    max_diff = max(
        float(np.max(np.abs(np.array([r[key] for r in results]) - scores[key])))
        for key in ("harm_base", "total_harm", "risk", "freshness", "priority")
    )
    check: dict[str, Any] = {"max_abs_diff": max_diff}
    if n <= 10_000:  # the sorted()-based reference ranking is slow; check it on small boards
        board = make_board(n)
        order = rank_order(scores["priority"], columns["T"], scores["position"], **board)
        expected = rank_reference(
            scores["priority"].tolist(),
            columns["T"].tolist(),
            scores["position"].tolist(),
            **{key: value.tolist() for key, value in board.items()},
        )
        check["rank_matches"] = order.tolist() == expected
    rate = n / seconds
    return {"reference_cases_per_s": rate, "speedup": engine_cases_per_s / rate, **check}


def _high_water_mb() -> tuple[float, str]:
    """This process's peak RSS in MiB, and where the number comes from."""
    # Linux: VmHWM belongs to this process image. ru_maxrss is not used there
    # because Linux carries the parent's high-water into a forked and exec'd
    # child, so a child of a big benchmark process would report the parent's peak.
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024, "VmHWM"
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20, "ru_maxrss"


def memory_child(n: int) -> dict[str, Any]:
    """In this (fresh) process: peak RSS before and after scoring n cases, and tracemalloc."""
    model = default_model()
    model.lookup_tables()
    baseline, source = _high_water_mb()
    columns = make_columns(n)
    inputs_ready, _ = _high_water_mb()
    scores = score_arrays(columns, model=model)
    peak, _ = _high_water_mb()
    output_mb = sum(a.nbytes for a in scores.values()) / 2**20
    del scores
    tracemalloc.start()
    score_arrays(columns, model=model)  # the traced peak includes the outputs
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "n": n,
        "rss_source": source,
        "rss_baseline_mb": baseline,
        "rss_inputs_mb": inputs_ready,
        "rss_peak_mb": peak,
        "input_mb": sum(a.nbytes for a in columns.values()) / 2**20,
        "output_mb": output_mb,
        "score_traced_peak_mb": traced_peak / 2**20,
    }


def bench_memory(n: int) -> dict[str, Any]:
    """Run memory_child(n) in a fresh interpreter so earlier sizes do not raise the high-water."""
    completed = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--memory-child", str(n)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def machine() -> dict[str, Any]:
    """The machine and library versions the numbers come from."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def _fmt_rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value / 1e6:.2f}M"


def _fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f}" if seconds < 1 else f"{seconds * 1e3:.0f}"


def format_table(rows: list[dict[str, Any]]) -> str:
    """The results as an aligned text table."""
    headings = (
        "N",
        "score c/s",
        "score ms",
        "rank ms",
        "score+rank ms",
        "score+rank c/s",
        f"top_k({TOP_K}) ms",
        "ref c/s",
        "speed-up",
        "tied",
        "peak RSS MB",
        "score alloc MB",
    )
    lines = [list(headings)]
    for row in rows:
        ref = row.get("reference_cases_per_s")
        lines.append(
            [
                f"{row['n']:,}",
                _fmt_rate(row["score_cases_per_s"]),
                _fmt_ms(row["score_s"]),
                _fmt_ms(row["rank_s"]),
                _fmt_ms(row["score_rank_s"]),
                _fmt_rate(row["score_rank_cases_per_s"]),
                _fmt_ms(row["top_k_s"]),
                "n/a" if ref is None else f"{ref / 1e3:.0f}k",
                "n/a" if ref is None else f"{row['speedup']:.0f}x",
                f"{row['tied_share']:.0%}",
                f"{row['rss_peak_mb']:.0f}" if "rss_peak_mb" in row else "n/a",
                f"{row['score_traced_peak_mb']:.0f}" if "score_traced_peak_mb" in row else "n/a",
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(headings))]
    return "\n".join(
        "  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)) for line in lines
    )


def goals(rows: list[dict[str, Any]]) -> list[str]:
    """The issue's goals, checked against whichever sizes were run."""
    by_n = {row["n"]: row for row in rows}
    checks = []
    if 1_000_000 in by_n:
        row = by_n[1_000_000]
        rate = row["score_cases_per_s"]
        checks.append(f"score 1M >= 25M cases/s: {rate / 1e6:.1f}M {_ok(rate >= 25e6)}")
        checks.append(
            f"full rank 1M < 0.3 s: rank {row['rank_s']:.3f} s {_ok(row['rank_s'] < 0.3)}"
        )
        both = row["score_rank_s"]
        checks.append(f"  (score + rank 1M: {both:.3f} s {_ok(both < 0.3)})")
    speedups = [(row["n"], row["speedup"]) for row in rows if "speedup" in row]
    if speedups:
        n, speedup = max(speedups)
        checks.append(f">= 30x the reference (at N={n:,}): {speedup:.0f}x {_ok(speedup >= 30)}")
    if 10_000_000 in by_n and "rss_peak_mb" in by_n[10_000_000]:
        peak = by_n[10_000_000]["rss_peak_mb"]
        checks.append(f"10M scored in < 2 GB peak RSS: {peak:.0f} MB {_ok(peak < 2048)}")
    return checks


def _ok(passed: bool) -> str:
    return "ok" if passed else "MISSED"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="comma-separated N"
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write results")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child is not None:
        print(json.dumps(memory_child(args.memory_child)))
        return 0

    sizes = [int(part.replace("_", "")) for part in args.sizes.split(",") if part.strip()]
    info = machine()
    model = default_model()
    model.lookup_tables()
    print(
        f"machine: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable); "
        f"Python {info['python']}, NumPy {info['numpy']}; model {model.label}"
    )
    if info["load_average"] is not None:
        print("load average at start: " + ", ".join(f"{x:.2f}" for x in info["load_average"]))
    print(
        "timings: best of several repeats, float64; rank = rank_order with deadline, submitted "
        "and ids; memory: fresh subprocess per N, peak RSS of the whole process (VmHWM) and "
        "tracemalloc peak inside score_arrays"
    )
    rows = []
    for n in sizes:
        started = time.perf_counter()
        row = bench_engine(n)
        if n <= REFERENCE_MAX_N:
            try:
                row.update(bench_reference(n, row["score_cases_per_s"]))
            except ImportError as exc:
                print(f"  reference not available ({exc}); skipping it", file=sys.stderr)
        if not args.no_memory:
            row.update(bench_memory(n))
        row["wall_s"] = time.perf_counter() - started
        rows.append(row)
        print(f"  N={n:,} done in {row['wall_s']:.1f} s", file=sys.stderr, flush=True)
    sys.stdout.flush()
    print(format_table(rows))
    for row in rows:
        if "max_abs_diff" in row:
            agree = "agrees" if row["max_abs_diff"] <= 1e-9 else "DISAGREES"
            matches = row.get("rank_matches")
            rank = "" if matches is None else f", rank order {'matches' if matches else 'DIFFERS'}"
            print(
                f"reference {agree} at N={row['n']:,}: "
                f"max |difference| {row['max_abs_diff']:.1e}{rank}"
            )
    for line in goals(rows):
        print(line)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {"machine": info, "model": model.label, "seed": SEED, "results": rows}
    args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
