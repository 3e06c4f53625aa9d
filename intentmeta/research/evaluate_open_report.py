"""Tables of the open-intent benchmark: one row per cell and method, mean ± 95% CI."""

from __future__ import annotations

import math

#: Columns of the table: metric key, header, scale.
COLUMNS = [
    ("macro_f1", "macro-F1", 100),
    ("accuracy", "accuracy", 100),
    ("oos_recall", "OOS recall", 100),
    ("oos_precision", "OOS precision", 100),
    ("auroc", "AUROC", 1),
    ("mcc", "MCC", 1),
    ("ece", "ECE", 1),
]


def _cell(summary: dict, scale: float) -> str:
    mean, half = summary["mean"], summary["ci95"]
    if mean is None or math.isnan(mean):
        return "–"
    digits = 1 if scale == 100 else 3
    text = f"{mean * scale:.{digits}f}"
    return text if half is None else f"{text} ± {half * scale:.{digits}f}"


def format_open_table(record: dict) -> str:
    """A Markdown table of every cell and method; the best macro-F1 of each cell in bold.

    >>> s = {m: {"mean": 0.5, "ci95": 0.01} for m, _, _ in COLUMNS}
    >>> record = {"data": "toy", "encoder": "e", "cells": [
    ...     {"known_ratio": 0.5, "shots": 10, "methods": {"intentmeta": s}}]}
    >>> print(format_open_table(record).splitlines()[2])
    | 50 % | 10 | intentmeta | **50.0 ± 1.0** | 50.0 ± 1.0 | 50.0 ± 1.0 | 50.0 ± 1.0 | 0.500 ± 0.010 | 0.500 ± 0.010 | 0.500 ± 0.010 |
    """  # noqa: E501
    header = ["known", "K", "method", *(title for _, title, _ in COLUMNS)]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for cell in record["cells"]:
        known = "all + oos" if cell["known_ratio"] >= 1 else f"{cell['known_ratio']:.0%}"
        known = known.replace("%", " %")
        best = max(s["macro_f1"]["mean"] for s in cell["methods"].values())
        for method, summary in cell["methods"].items():
            values = []
            for key, _, scale in COLUMNS:
                text = _cell(summary[key], scale)
                bold = key == "macro_f1" and summary[key]["mean"] == best
                values.append(f"**{text}**" if bold else text)
            lines.append(f"| {known} | {cell['shots']} | {method} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def _mean_ci(summary: dict) -> str:
    text = f"{summary['mean'] * 100:.1f}"
    return text if summary["ci95"] is None else f"{text} ± {summary['ci95'] * 100:.1f}"


def robustness_table(records: list[dict], intents: dict[str, int], ece_bound: float = 0.05) -> str:
    """One row per (data set, encoder, head, K, known share) of ``intentmeta`` alone: macro-F1,
    OOS recall, in-scope accuracy and ECE, ✗ beside an ECE above ``ece_bound``.

    Args:
        records: What :func:`~intentmeta.research.evaluate_open.evaluate_open` returned.
        intents: Number of intents of each data set (to print how many were known).
        ece_bound: The ECE target.
    """
    lines = [
        "| data | encoder | head | K | known (intents) | seeds | macro-F1 | OOS recall "
        "| in-scope acc. | ECE |",
        "|" + " --- |" * 10,
    ]
    rows = {}
    for record in records:
        for cell in record["cells"]:
            ratio = cell["known_ratio"]
            known = "all + oos" if ratio >= 1 else f"{ratio * 100:.0f} %"
            n_known = max(2, round(min(ratio, 1.0) * intents[record["data"]]))
            encoder = record["encoder"] + (
                ", rule refitted" if record["config"].get("rule") else ""
            )
            key = (record["data"], encoder, record["config"]["head"], cell["shots"], ratio)
            ours = cell["methods"]["intentmeta"]
            ece = ours["ece"]["mean"]
            rows[key] = (
                f"| {record['data']} | {encoder} | {key[2]} | {cell['shots']} "
                f"| {known} ({n_known}) | {len(cell['per_seed']['intentmeta'])} "
                f"| {_mean_ci(ours['macro_f1'])} | {_mean_ci(ours['oos_recall'])} "
                f"| {_mean_ci(ours['in_scope_accuracy'])} "
                f"| {ece:.3f}{'' if ece <= ece_bound else ' ✗'} |"
            )
    return "\n".join([*lines, *(rows[key] for key in sorted(rows))])


def rule_comparison_table(before: list[dict], after: list[dict]) -> str:
    """``intentmeta`` with two rules on the same episodes: one row per (data set, K, known
    share) in both, macro-F1 / OOS recall / ECE of each and the paired macro-F1 difference.

    Args:
        before: Records (:func:`~intentmeta.research.evaluate_open.evaluate_open`) of one rule.
        after: Records of the other, same split and seeds (episodes are paired by seed).
    """
    from intentmeta.research.statistics import mean_ci

    def cells(records: list[dict]) -> dict[tuple, dict]:
        return {
            (r["data"], c["shots"], c["known_ratio"]): c["per_seed"]["intentmeta"]
            for r in records
            for c in r["cells"]
        }

    old, new = cells(before), cells(after)
    lines = [
        "| data | K | known | seeds | macro-F1 before | macro-F1 after | Δ macro-F1 (paired) "
        "| OOS recall before | OOS recall after | ECE before | ECE after |",
        "|" + " --- |" * 11,
    ]
    for key in sorted(old.keys() & new.keys()):
        a, b = old[key], new[key]
        mean = {
            metric: [sum(run[metric] for run in runs) / len(runs) for runs in (a, b)]
            for metric in ("macro_f1", "oos_recall", "ece")
        }
        delta, half = mean_ci([y["macro_f1"] - x["macro_f1"] for x, y in zip(a, b, strict=True)])
        known = "all + oos" if key[2] >= 1 else f"{key[2] * 100:.0f} %"
        ci = "" if math.isnan(half) else f" ± {half * 100:.1f}"
        lines.append(
            f"| {key[0]} | {key[1]} | {known} | {len(a)} "
            f"| {mean['macro_f1'][0] * 100:.1f} | {mean['macro_f1'][1] * 100:.1f} "
            f"| {delta * 100:+.1f}{ci} "
            f"| {mean['oos_recall'][0] * 100:.1f} | {mean['oos_recall'][1] * 100:.1f} "
            f"| {mean['ece'][0]:.3f} | {mean['ece'][1]:.3f} |"
        )
    return "\n".join(lines)
