"""Classifying a whole log: classify-file throughput and peak memory, Spark local[1] vs local[2].

The log is synthetic: every message is a built-in e-commerce example with a greeting, a closing
and a ticket number around it, so each one is distinct (no cache could answer it) and no data set
sentence is used.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from bench_common import summary

from intentmeta import IntentClassifier, builtin_intents
from intentmeta.encoder import EncoderConfig, SentenceEncoder

_OPENERS = ["", "hi, ", "hello! ", "quick question: ", "please help, ", "good morning, "]
_CLOSERS = ["", " thanks", " asap please", " (order {n})", " - ticket {n}", " regards, client {n}"]


def synthetic_messages(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct customer messages made from the built-in examples."""
    rng = random.Random(seed)
    examples = [text for group in builtin_intents("ecommerce").values() for text in group]
    return [
        f"{rng.choice(_OPENERS)}{rng.choice(examples)}{rng.choice(_CLOSERS)} #{i}".format(n=i)
        for i in range(n)
    ]


def write_log(path: Path, messages: list[str]) -> None:
    """A log file (CSV or Parquet by extension) with an id and a channel column to carry."""
    table = pa.table(
        {
            "ticket_id": [f"T{i:07d}" for i in range(len(messages))],
            "channel": [("email", "chat", "phone")[i % 3] for i in range(len(messages))],
            "text": messages,
        }
    )
    if path.suffix == ".parquet":
        pq.write_table(table, path)
    else:
        pa_csv.write_csv(table, path)


def bare_encoder_rate(messages: list[str], batch_size: int, backend: str) -> tuple[float, float]:
    """Messages/s of the bare encoder (``encode``, no cache) in the same batches, and its CPU
    milliseconds per message."""
    encoder = SentenceEncoder(EncoderConfig(cache_size=0, backend=backend))
    encoder.encode(messages[:batch_size], use_cache=False)  # warm-up
    start, cpu = time.perf_counter(), time.process_time()
    for offset in range(0, len(messages), batch_size):
        encoder.encode(messages[offset : offset + batch_size], use_cache=False)
    cpu_ms = (time.process_time() - cpu) * 1e3 / len(messages)
    return len(messages) / (time.perf_counter() - start), cpu_ms


# The CLI, then the peak resident size of this process image (VmHWM, reset by exec: the bench's
# own memory, which a forked child briefly shares, is not counted, as rusage's maxrss would).
_CLI = """
import sys
from intentmeta.cli import main
status = main(sys.argv[1:])
peak = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]
print("PEAK_KB", peak.split()[1], file=sys.stderr)
sys.exit(status)
"""


def classify_file_run(source: Path, registry: Path, out: Path, threads: int, backend: str) -> dict:
    """``intentmeta classify-file`` in a fresh process: its summary, wall time and peak RSS."""
    argv = [sys.executable, "-c", _CLI, "classify-file", str(source), "--registry",
            str(registry), "--out", str(out), "--quiet", "--json", "--overwrite",
            "--backend", backend]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"classify-file failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    peak = [line for line in done.stderr.splitlines() if line.startswith("PEAK_KB")][-1]
    result["wall_seconds"] = wall
    result["peak_rss_mb"] = int(peak.split()[1]) / 1024
    return result


def classify_file_bench(
    workdir: Path, sizes: tuple[int, ...], threads: int, backend: str, baseline_rows: int = 2000
) -> dict:
    """classify-file on CSV logs of each size, against the bare encoder's batched rate.

    The bare encoder is timed on ``baseline_rows`` messages spread evenly through the same log
    (every ``n / baseline_rows``-th: later messages carry longer ticket numbers, so the first
    ones alone would be shorter than the log's average), in the same batches (256), just before
    and just after each classify-file run; the run's ratio is its rate over the mean of those
    two, so a neighbour's load drifting over minutes hits both. Both sides' CPU time per
    message is recorded too: classify-file overlaps its own work with the encoder's on a
    second thread, which the wall-clock rate alone would not show.
    """
    registry = workdir / "registry"
    if not registry.exists():
        IntentClassifier.from_builtin("ecommerce").save(registry)
    messages = synthetic_messages(max(sizes))
    runs = {}
    for n in sizes:
        sample = messages[: n : max(1, n // baseline_rows)][:baseline_rows]
        source, out = workdir / f"log_{n}.csv", workdir / f"out_{n}.csv"
        write_log(source, messages[:n])
        before, cpu_before = bare_encoder_rate(sample, 256, backend)
        run = classify_file_run(source, registry, out, threads, backend)
        after, cpu_after = bare_encoder_rate(sample, 256, backend)
        run["bare_encoder_per_s"] = [before, after]
        run["ratio"] = run["messages_per_s"] / ((before + after) / 2)
        run["bare_cpu_ms_per_message"] = (cpu_before + cpu_after) / 2
        run["cpu_ms_per_message"] = run["cpu_seconds"] * 1e3 / (run["rows"] - run["resumed_from"])
        run["output_mb"] = out.stat().st_size / 2**20
        runs[n] = run
        out.unlink()
        source.unlink()
    return {"backend": backend, "baseline_rows": baseline_rows, "runs": runs}


def spark_bench(
    workdir: Path, n_messages: int, backend: str, cores: tuple[int, ...] = (1, 2)
) -> dict:
    """``intentmeta.spark.classify`` on a Parquet log at local[1] and local[2], warmed up."""
    from intentmeta.spark import classify, local_session

    registry = workdir / "registry"
    if not registry.exists():
        IntentClassifier.from_builtin("ecommerce").save(registry)
    source = workdir / "spark_log.parquet"
    write_log(source, synthetic_messages(n_messages, seed=1))
    warm = synthetic_messages(64, seed=2)
    result: dict = {"messages": n_messages, "backend": backend}
    for n in cores:
        spark = local_session(n, app_name=f"intentmeta-bench-{n}")
        try:
            # Every Python worker loads the classifier once, outside the timing.
            small = spark.createDataFrame([(t,) for t in warm], "text string").repartition(n)
            classify(small, registry, backend=backend).write.format("noop").mode("overwrite").save()
            df = spark.read.parquet(str(source)).repartition(n).cache()
            df.count()
            times = []
            for _ in range(2):
                start = time.perf_counter()
                result_df = classify(df, registry, backend=backend)
                result_df.write.format("noop").mode("overwrite").save()
                times.append(time.perf_counter() - start)
            result[f"local[{n}]"] = {
                "seconds": summary(times, scale=1.0),
                "messages_per_s": n_messages / min(times),
            }
        finally:
            spark.stop()
    first, last = (f"local[{n}]" for n in (cores[0], cores[-1]))
    result["speedup"] = result[last]["messages_per_s"] / result[first]["messages_per_s"]
    return result
