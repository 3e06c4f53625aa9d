"""Render benchmark results as the "Performance" section of BENCHMARKS.md."""

from __future__ import annotations

from pathlib import Path

from bench_common import replace_section

HEADING = "## Performance (issue: performance)"


def _ms(stats: dict) -> str:
    spread = f"p10 {stats['p10']:.2f} – p90 {stats['p90']:.2f}"
    return f"{stats['median']:.2f} ms ({spread}, n={stats['n']})"


def _rate(stats: dict) -> str:
    return f"{stats['median']:.0f}/s (p10 {stats['p10']:.0f} – p90 {stats['p90']:.0f})"


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def _adaptation_lines(a: dict | None) -> list[str]:
    """The large-registry ``fit``, in blocks and as one block (absent from older runs)."""
    if not a:
        return []
    blocks, whole = a["capped"], a["uncapped"]
    return [
        f"- `fit` of {a['intents']:,} intents × {a['examples_per_intent']} examples, embeddings "
        f"precomputed: default `adapt_max_work={blocks['max_work']:g}` {blocks['seconds']:.1f} s "
        f"({blocks['steps']} adaptation steps in each of {blocks['blocks']} blocks of "
        "neighbouring intents); `adapt_max_work=None` "
        f"{whole['seconds']:.1f} s ({whole['steps']} steps, one block: the square of the "
        "registry). One run each.",
    ]


def render(r: dict) -> str:
    """The section's markdown, heading included."""
    m = r["machine"]
    fc, sc, add = r["forward_vs_classify"], r["scaling"], r["add_intent"]
    ratio = fc["ratio_classify_over_forward"]
    ratio_1k, ratio_10k = sc["ratio_1000_over_10"], sc["ratio_10000_over_10"]
    own_10k = sc["own_10000"]["median"]
    edits = sc["edits"]
    add_10k = edits["add_intent"]["median"]
    add_ms = add["add_intent"]["median"]
    q, loss = r["quantized_speed"], r["quantized_accuracy_loss_points"]
    mem, fit = r["memory"], r["fit"]
    acc32 = ", ".join(f"{a:.2f}" for a in r["accuracy_fp32"])
    acc8 = ", ".join(f"{a:.2f}" for a in r["accuracy_quantized"])
    lines = [
        HEADING,
        "",
        f"`make bench` (`benchmarks/run_all.py`), {m['date']}, {m['cpu']}, {m['cores']} cores, "
        f"torch {m['torch']} with {m['torch_threads']} threads, transformers {m['transformers']}. "
        f"Whole run: {r['total_seconds']:.0f} s. Figures are medians with p10–p90 over n "
        "repetitions; ratios compare medians measured in this same run, with the calls "
        "interleaved so that load from other processes hits both sides alike. Raw numbers: "
        "`results/bench.json`.",
        "",
        "### Targets",
        "",
        "| Target | Measured | Verdict |",
        "|---|---|---|",
        f"| `classify(text)` ≤ 1.10× bare forward (same text, uncached) | {ratio:.3f}× | "
        f"{_verdict(ratio <= 1.10)} |",
        f"| `add_intent` (10 new examples) into 1,000 intents ≤ 100 ms, encoding included | "
        f"{add_ms:.1f} ms | "
        f"{_verdict(add_ms <= 100)} |",
        f"| `classify` with 1,000 intents ≤ 1.20× with 10 | {ratio_1k:.3f}× | "
        f"{_verdict(ratio_1k <= 1.20)} |",
        f"| `classify` with 10,000 intents ≤ 1.20× with 10 (uncached) | {ratio_10k:.3f}× | "
        f"{_verdict(ratio_10k <= 1.20)} |",
        f"| classifier's own work per message at 10,000 intents ≤ 2 ms | {own_10k:.2f} ms | "
        f"{_verdict(own_10k <= 2.0)} |",
        f"| `add_intent` (10 examples) at 10,000 intents ≤ 20 ms beyond encoding | "
        f"{add_10k:.2f} ms | {_verdict(add_10k <= 20.0)} |",
        f"| quantized backend ≥ 2× faster, ≤ 0.5 points lost | {q['speedup']:.2f}×, "
        f"{loss:+.2f} points lost | {'default' if r['quantized_passes'] else 'opt-in only'} |",
        "",
        "### One short message (12 tokens)",
        "",
        "| Call | Time |",
        "|---|---|",
        f"| bare encoder `SentenceEncoder.forward([text])` | {_ms(fc['forward'])} |",
        f"| `classify(text)`, uncached | {_ms(fc['classify'])} |",
        f"| `classify(text)`, cached embedding | {_ms(fc['classify_cached'])} |",
        f"| per-call ratio classify / forward | {fc['ratio_per_call']['median']:.3f} "
        f"(p10 {fc['ratio_per_call']['p10']:.3f} – p90 {fc['ratio_per_call']['p90']:.3f}) |",
        "",
        "### Number of intents (the default classifier, `fit` on 10 examples per intent)",
        "",
        "Synthetic intents: clusters of unit vectors (pairwise cosine about 0.6) put in the "
        "encoder's cache, so `fit` runs its real code path; messages are new 12-token texts. "
        "Own work = the same call once the message's embedding is cached.",
        "",
        "| Intents | `classify`, uncached | own work per message | `fit` | adaptation steps |",
        "|---|---|---|---|---|",
    ]
    for n, fitted in sc["fitted"].items():
        lines.append(
            f"| {int(n):,} | {_ms(sc[f'classify_{n}'])} | {_ms(sc[f'own_{n}'])} | "
            f"{fitted['fit_seconds']:.2f} s | {fitted['adapted']} |"
        )
    short, clinc = sc["shortlist"], r["shortlist_clinc150"]
    lines += [
        "",
        f"Ratio to 10 intents, uncached: 1,000 → {ratio_1k:.3f}×, 10,000 → {ratio_10k:.3f}×. "
        f"At {edits['intents']:,} intents, beyond encoding (examples cached): `add_intent` "
        f"(10 examples) {_ms(edits['add_intent'])}, `add_examples` (2) "
        f"{_ms(edits['add_examples'])}, `remove_intent` {_ms(edits['remove_intent'])}. "
        f"`add_intent` with 10 new examples into {add['intents']:,} intents, encoding included: "
        f"{_ms(add['add_intent'])}.",
        "",
        f"Shortlist (`intentmeta/heads/shortlist.py`) at 10,000 intents, {short['messages']} "
        f"messages: exact (every class that could win was scored) on {short['exact']}; the "
        f"winner equals scoring all 100,000 examples on {short['same_winner']} "
        f"({short['same_winner_when_not_exact']} of the "
        f"{short['messages'] - short['exact']} capped ones). On CLINC150 test (150 intents, "
        f"10-shot, {clinc['seeds']} seeds, in-scope and out-of-scope messages, "
        f"`benchmarks/shortlist.py`): exact on {clinc['exact']:,} of {clinc['messages']:,} "
        f"messages, same winner on {clinc['same_winner']:,}, same five listed intents on "
        f"{clinc['same_top5']:,}; the listed top probability (its softmax normaliser "
        f"estimated off the shortlist) is within {clinc['worst_top1_probability_error']:.3f} "
        "of the exact softmax.",
        "",
        "### Batches (real BANKING77 test messages, sorted by length inside the encoder)",
        "",
        "| Batch | bare encoder (`encode`, no cache) | `classify_batch` | ratio |",
        "|---|---|---|---|",
    ]
    for size, row in r["throughput"].items():
        lines.append(
            f"| {size} | {_rate(row['encoder_per_s'])} | {_rate(row['classify_batch_per_s'])} | "
            f"{row['ratio']['median']:.2f} |"
        )
    lines += [
        "",
        "### Memory and fitting",
        "",
        f"- The default classifier fitted on {mem['intents']:,} intents × "
        f"{mem['examples_per_intent']} examples, beyond the encoder: process RSS grew "
        f"{mem['rss_delta_mb']:.0f} MB (the examples' embeddings alone are "
        f"{mem['examples_mb']:.0f} MB; head buffers {mem['head_buffers_mb']:.0f} MB).",
        f"- `fit` on {fit['examples']:,} BANKING77 training examples ({fit['intents']} intents), "
        f"empty cache, progress bar on: {fit['seconds']:.1f} s ({fit['examples_per_s']:.0f} "
        "examples/s; one run).",
        *_adaptation_lines(r.get("adaptation_fit")),
        "",
        '### Quantized encoder backend (`EncoderConfig(backend="quantized")`)',
        "",
        "int8 dynamic quantisation of every linear layer, per-channel weight scales "
        "(`torch.ao.quantization.quantize_dynamic`).",
        "",
        "| | fp32 (default) | quantized |",
        "|---|---|---|",
        f"| one short message | {_ms(q['fp32'])} | {_ms(q['quantized'])} |",
        f"| BANKING77 10-shot accuracy, seeds {list(range(len(r['accuracy_fp32'])))} | "
        f"{acc32} | {acc8} |",
        "",
        f"Speed-up {q['speedup']:.2f}×; accuracy lost {loss:.2f} points (mean over seeds). "
        + (
            "It passes both bars."
            if r["quantized_passes"]
            else "It misses at least one bar (≥ 2× and ≤ 0.5 points), so it stays opt-in: "
            '`SentenceEncoder(EncoderConfig(backend="quantized"))` passed as '
            "`IntentClassifier(encoder=...)`."
        ),
        "",
    ]
    return "\n".join(lines)


def write_section(path: Path, results: dict) -> None:
    """Replace the Performance section of ``path`` (up to the next ``## `` heading)."""
    replace_section(path, HEADING, render(results))
