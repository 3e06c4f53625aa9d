"""The issue-14 section of BENCHMARKS.md: classify-file, Spark, the ONNX Runtime int8 backend.

A section of its own (written by ``make bench`` after the Performance one), so the two are
rendered and merged independently.
"""

from __future__ import annotations

from pathlib import Path

from bench_common import replace_section

HEADING = "## Whole logs, Spark and the ONNX backend (issue 14)"


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def target_rows(r: dict) -> list[str]:
    """Rows of the Targets table."""
    files, spark, onnx = r["classify_file"], r["spark"], r["onnx_speed"]
    largest = max(files["runs"], key=int)
    ratio = files["runs"][largest]["ratio"]
    peak = max(run["peak_rss_mb"] for run in files["runs"].values())
    sizes = " and ".join(f"{int(n):,}" for n in sorted(files["runs"], key=int))
    loss = r["onnx_accuracy"]["loss_points"]
    return [
        f"| `classify-file` on {int(largest):,} messages ≥ 0.95× the bare encoder's batched "
        f"throughput | {ratio:.3f}× | {_verdict(ratio >= 0.95)} |",
        f"| `classify-file` peak RSS ≤ 1.5 GB ({sizes} messages) | {peak:,.0f} MB | "
        f"{_verdict(peak <= 1536)} |",
        f"| Spark local[2] vs local[1] (reported) | {spark['speedup']:.2f}× | reported |",
        f"| ONNX int8 ≥ 3× torch fp32 per message, ≤ 0.5 points lost | {onnx['speedup']:.2f}×, "
        f"{loss:+.2f} points lost | {_verdict(onnx['speedup'] >= 3 and loss <= 0.5)} |",
    ]


def _ms(stats: dict) -> str:
    spread = f"p10 {stats['p10']:.2f} – p90 {stats['p90']:.2f}"
    return f"{stats['median']:.2f} ms ({spread}, n={stats['n']})"


def section(r: dict) -> list[str]:
    """The section's lines, heading included."""
    files, spark, onnx, acc = r["classify_file"], r["spark"], r["onnx_speed"], r["onnx_accuracy"]
    m = r["machine"]
    lines = [
        HEADING,
        "",
        f"`make bench`, or `python benchmarks/run_all.py --only-logs` for this section alone "
        f"(`log_bench.py`, `onnx_int8.py`); this run: `{r.get('command', 'make bench')}`, "
        f"{m['date']}, {m['cpu']}, {m['cores']} cores, torch {m['torch']} with "
        f"{m['torch_threads']} thread(s). Ratios compare figures of "
        "this same run. Raw numbers: `results/bench.json` (`results/bench_logs.json` with "
        "`--only-logs`).",
        "",
        "| Target | Measured | Verdict |",
        "|---|---|---|",
        *target_rows(r),
        "",
        "### Classifying a log (`intentmeta classify-file`)",
        "",
        f"Synthetic CSV logs (built-in e-commerce examples with a greeting, a closing and a "
        f"ticket number, every message distinct; `ticket_id` and `channel` carried through), the "
        f"built-in registry, `--batch-size 256`, encoder backend `{files['backend']}`, each run a "
        f"fresh `intentmeta classify-file` process, its encoder on {r['machine']['torch_threads']} "
        "thread(s). "
        "Throughput is the classification loop's (reading, classifying, writing, an fsync and "
        "a progress-file update about once a second), the encoder working one batch ahead in "
        "a second thread; the bare encoder is `SentenceEncoder.encode` without cache, in the "
        f"same batches of 256, on {files['baseline_rows']:,} messages spread evenly through "
        "the same log (later messages carry longer ticket numbers), timed just before and "
        "just after each run (the ratio uses their mean). CPU time per message counts every "
        "thread of the process: what the overlap hides from the wall clock.",
        "",
        "| Messages | classify-file | bare encoder before / after | ratio | CPU per message "
        "(bare) | wall time (start-up incl.) | peak RSS | output |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, run in sorted(files["runs"].items(), key=lambda item: int(item[0])):
        cpu = run.get("cpu_ms_per_message")
        cpu_text = "–" if cpu is None else f"{cpu:.2f} ms ({run['bare_cpu_ms_per_message']:.2f} ms)"
        lines.append(
            f"| {int(n):,} | {run['messages_per_s']:.0f}/s | "
            f"{run['bare_encoder_per_s'][0]:.0f} / {run['bare_encoder_per_s'][1]:.0f}/s | "
            f"{run['ratio']:.3f}× | {cpu_text} | "
            f"{run['wall_seconds']:.0f} s | {run['peak_rss_mb']:,.0f} MB | "
            f"{run['output_mb']:.1f} MB |"
        )
    local1, local2 = spark["local[1]"], spark["local[2]"]
    lines += [
        "",
        "### Apache Spark (`intentmeta.spark.classify`)",
        "",
        f"{spark['messages']:,} synthetic messages from Parquet, `mapInPandas`, encoder backend "
        f"`{spark['backend']}`, one torch thread per task; every Python worker loaded the "
        "classifier in an untimed warm-up; timed: classify and write to Spark's `noop` sink, "
        f"best of {local1['seconds']['n']}.",
        "",
        "| Master | messages/s | seconds (median) |",
        "|---|---|---|",
        f"| local[1] | {local1['messages_per_s']:.0f} | {local1['seconds']['median']:.1f} |",
        f"| local[2] | {local2['messages_per_s']:.0f} | {local2['seconds']['median']:.1f} |",
        "",
        f"local[2] / local[1]: {spark['speedup']:.2f}× on this 2-core machine.",
        "",
        '### ONNX Runtime int8 backend (`EncoderConfig(backend="onnx-int8")`)',
        "",
        "`torch.onnx.export`; for BERT-family models ONNX Runtime's BERT fusion (attention, "
        "GELU, layer norms; used only if the fused graph reproduces the export's hidden "
        "states), then int8 weights per output channel for every MatMul and for the fused "
        "attention's Q/K/V projection (`quantize_dynamic`, activations quantised on the fly). "
        "One message is tokenised by the fast tokenizer's Rust backend directly (both columns). "
        "The recipe was chosen on held-out data only, BANKING77 train and CLINC150 validation "
        '(section "Choosing the ONNX int8 recipe", `benchmarks/onnx_recipes.py`); nothing was '
        "chosen after seeing the test split below.",
        "",
        "| | torch fp32 (default) | onnx-int8 |",
        "|---|---|---|",
        f"| one short message (12 tokens) | {_ms(onnx['fp32'])} | {_ms(onnx['onnx'])} |",
        f"| BANKING77 10-shot accuracy, default head, seeds 0–{len(acc['fp32']) - 1} | "
        + ", ".join(f"{a:.2f}" for a in acc["fp32"])
        + " | "
        + ", ".join(f"{a:.2f}" for a in acc["onnx"])
        + " |",
        "",
        f"Speed-up {onnx['speedup']:.2f}×; accuracy lost {acc['loss_points']:.2f} points (mean "
        "over seeds). Export and quantisation run once per model (a few seconds) and are cached "
        "in `~/.cache/intentmeta/onnx/`.",
        "",
    ]
    return lines


def write_section(path: Path, results: dict) -> None:
    """Replace this section of ``path`` (up to the next ``## `` heading), or append it."""
    replace_section(path, HEADING, "\n".join(section(results)))
