"""Reporting of evaluation results: markdown tables, the accuracy-vs-shots plot, JSON files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path


def _cell(summary: dict) -> str:
    half = summary["ci95"]
    return f"{summary['mean']:.2f}" + ("" if half is None else f" ± {half:.2f}")


def format_table(results: dict) -> str:
    """Markdown tables of one evaluation: full-class accuracy / macro-F1 per K, then episodes."""
    full = results["full_class"]
    shots = list(full)
    methods = list(full[shots[0]]) if shots else []
    header = "| method | " + " | ".join(f"{k}-shot acc | {k}-shot F1" for k in shots) + " |"
    lines = [
        f"{results['dataset']} ({results['split']}, {results['n_intents']} intents, "
        f"{results['config']['seeds']} seeds, mean ± 95% CI, %)",
        "",
        header,
        "|" + " --- |" * (1 + 2 * len(shots)),
    ]
    for name in methods:
        cells = [
            f"{_cell(full[k][name]['accuracy'])} | {_cell(full[k][name]['macro_f1'])}"
            for k in shots
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    settings = list(results["episodic"])
    if settings:
        lines += [
            "",
            "| method | " + " | ".join(settings) + " |",
            "|" + " --- |" * (1 + len(settings)),
        ]
        for name in results["episodic"][settings[0]]:
            cells = [_cell(results["episodic"][s][name]["accuracy"]) for s in settings]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_accuracy(all_results: Sequence[dict], path: str | Path) -> Path:
    """PNG of full-class accuracy against shots, one line per method, one panel per data set.

    Args:
        all_results: Results of :func:`evaluate`, one per data set.
        path: Output PNG path.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(
        1, len(all_results), figsize=(5.5 * len(all_results), 4.2), squeeze=False
    )
    for axis, results in zip(axes[0], all_results, strict=True):
        shots = sorted(results["full_class"], key=int)
        for name in results["full_class"][shots[0]]:
            means = [results["full_class"][k][name]["accuracy"]["mean"] for k in shots]
            errors = [results["full_class"][k][name]["accuracy"]["ci95"] or 0 for k in shots]
            # dashed: the default classifier often coincides with one of the heads
            axis.errorbar(
                [int(k) for k in shots],
                means,
                yerr=errors,
                marker="o",
                capsize=3,
                label=name,
                linestyle="--" if name == "default" else "-",
            )
        axis.set_xscale("log", base=2)
        axis.set_xticks([int(k) for k in shots], labels=shots)
        axis.set_xlabel("examples per intent (K)")
        axis.set_ylabel("accuracy, % (95% CI)")
        axis.set_title(f"{results['dataset']} {results['split']}, {results['n_intents']} intents")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def save_results(results: dict, out_dir: str | Path) -> Path:
    """Write ``<out_dir>/<dataset>_<split>.json``; returns its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    split = results["split"].split("(")[0]
    path = out / f"{results['dataset']}_{split}.json"
    path.write_text(json.dumps(results, indent=1))
    return path
