"""Run every performance measurement (issues 8 and 17) and record it.

Writes ``results/bench.json`` and the "Performance" section of ``BENCHMARKS.md``.

    python benchmarks/run_all.py --data ../shared/data
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import backend
import capacity
import latency
import log_bench
import onnx_int8
import report_logs
import scale
import shortlist
import torch
from bench_common import machine
from report import write_section

from intentmeta.encoder import EncoderConfig, SentenceEncoder
from intentmeta.research.benchmark_encoders import off_the_shelf_encoder
from intentmeta.shipped_encoders import OFF_THE_SHELF

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="folder holding banking77/")
    parser.add_argument("--out", default=str(ROOT / "results" / "bench.json"))
    parser.add_argument("--markdown", default=str(ROOT / "BENCHMARKS.md"))
    # One thread: on a shared 2-core machine two threads spin-wait on each other and time noise.
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=30, help="repetitions of each latency")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the accuracy comparison")
    parser.add_argument(
        "--log-sizes", type=int, nargs="+", default=[10_000, 100_000], help="classify-file logs"
    )
    parser.add_argument(
        "--log-backend", default="onnx-int8", help="encoder backend of the log and Spark runs"
    )
    parser.add_argument(
        "--skip-logs",
        action="store_true",
        help="only the Performance section: skip the issue-14 figures (logs, Spark, ONNX)",
    )
    parser.add_argument("--spark-messages", type=int, default=4000, help="Spark log size")
    parser.add_argument(
        "--only-logs",
        action="store_true",
        help="only the issue-14 figures (logs, Spark, ONNX): their own section and JSON file",
    )
    args = parser.parse_args()
    if args.only_logs and args.out == parser.get_default("out"):
        args.out = str(ROOT / "results" / "bench_logs.json")

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    data = Path(args.data) / "banking77"
    encoder = off_the_shelf_encoder()
    command = " ".join(["benchmarks/run_all.py", *sys.argv[1:]])
    results: dict = {"machine": machine(), "command": command}

    def step(name: str, fn, *fn_args) -> None:
        print(f"[bench] {name} ...", flush=True)
        t0 = time.perf_counter()
        results[name] = fn(*fn_args)
        print(f"[bench] {name} done in {time.perf_counter() - t0:.1f} s", flush=True)

    if not args.only_logs:
        train = backend.read_split(data / "train.csv")
        test = backend.read_split(data / "test.csv")
        # 5x the repetitions: a ~15 ms pair, and the target's ratio needs a tight median
        step("forward_vs_classify", latency.forward_vs_classify, encoder, 5 * args.repeats)
        step("scaling", scale.scaling, encoder, args.repeats, (10, 1000, 10000))
        step("add_intent", latency.add_intent, encoder, max(20, args.repeats // 2))
        # Real messages of mixed length for batches; the test split is never fitted on here.
        step("throughput", latency.throughput, encoder, test[0], (1, 4, 16, 64, 256), 5)
        step("memory", scale.memory)
        step("adaptation_fit", capacity.adaptation_fit)
        step("shortlist_clinc150", shortlist.clinc150_rates, encoder, Path(args.data))
        step("fit", capacity.fit_time, encoder, *train)

        quantized = SentenceEncoder(EncoderConfig(model=OFF_THE_SHELF, backend="quantized"))
        step("quantized_speed", backend.speed, encoder, quantized, args.repeats)
        seeds = tuple(range(args.seeds))
        # fp32 first: fit() above left every train embedding in the cache.
        step("accuracy_fp32", backend.ten_shot_accuracy, encoder, train, test, seeds)
        step("accuracy_quantized", backend.ten_shot_accuracy, quantized, train, test, seeds)
        fp32 = statistics.mean(results["accuracy_fp32"])
        int8 = statistics.mean(results["accuracy_quantized"])
        results["quantized_accuracy_loss_points"] = fp32 - int8
        results["quantized_passes"] = (
            results["quantized_speed"]["speedup"] >= 2.0 and fp32 - int8 <= 0.5
        )

    if not args.skip_logs:  # Issue 14: the ONNX Runtime backend, whole logs, Spark.
        onnx = SentenceEncoder(EncoderConfig(model=OFF_THE_SHELF, backend="onnx-int8"))
        step("onnx_speed", backend.speed, encoder, onnx, args.repeats, "onnx", 5)
        step("onnx_accuracy", onnx_int8.compare, encoder, onnx, str(data), 5)
        with tempfile.TemporaryDirectory() as workdir:
            sizes = tuple(args.log_sizes)
            step("classify_file", log_bench.classify_file_bench, Path(workdir), sizes,
                 args.threads, args.log_backend)  # fmt: skip
            step(
                "spark", log_bench.spark_bench, Path(workdir), args.spark_messages, args.log_backend
            )
    results["total_seconds"] = time.perf_counter() - started

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    if not args.only_logs:
        write_section(Path(args.markdown), results)
    if not args.skip_logs:
        report_logs.write_section(Path(args.markdown), results)
    print(f"[bench] wrote {out} and {args.markdown} in {results['total_seconds']:.0f} s")


if __name__ == "__main__":
    main()
