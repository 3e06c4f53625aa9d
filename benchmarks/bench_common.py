"""Timing, statistics and machine facts shared by the benchmark modules."""

from __future__ import annotations

import os
import platform
import random
import re
import statistics
import subprocess
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import torch

#: Words for synthetic short messages; every one is a single MiniLM token.
_WORDS = [
    "card",
    "order",
    "parcel",
    "refund",
    "money",
    "account",
    "payment",
    "transfer",
    "phone",
    "email",
    "address",
    "password",
    "delivery",
    "cash",
    "fee",
    "bank",
    "app",
    "help",
    "please",
    "today",
    "now",
    "still",
    "again",
    "new",
    "old",
    "my",
    "your",
    "the",
    "a",
]


def summary(seconds: list[float], scale: float = 1e3) -> dict[str, float]:
    """Median and spread of timings, in milliseconds unless ``scale`` says otherwise.

    Args:
        seconds: One timing per repetition.
        scale: Factor from seconds to the reported unit.

    Returns:
        ``median``, ``p10``, ``p25``, ``p75``, ``p90`` and the number of repetitions ``n``.
    """
    values = sorted(s * scale for s in seconds)
    if len(values) == 1:
        v = values[0]
        return {"median": v, "p10": v, "p25": v, "p75": v, "p90": v, "n": 1}
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    quartiles = statistics.quantiles(values, n=4, method="inclusive")
    return {
        "median": statistics.median(values),
        "p10": deciles[0],
        "p25": quartiles[0],
        "p75": quartiles[2],
        "p90": deciles[-1],
        "n": len(values),
    }


def interleaved(calls: dict[str, Callable[[int], object]], repeats: int) -> dict[str, list[float]]:
    """Time several calls round-robin, so a noisy neighbour slows them all alike.

    Args:
        calls: Name -> function of the repetition index.
        repeats: Repetitions of each call.

    Returns:
        Name -> one duration in seconds per repetition.
    """
    times: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for i in range(repeats):
        # Rotate the order each round: whoever runs first must not always pay for a cold cache.
        for name in names[i % len(names) :] + names[: i % len(names)]:
            start = time.perf_counter()
            calls[name](i)
            times[name].append(time.perf_counter() - start)
    return times


def same_length_texts(tokenizer, n: int, n_tokens: int = 12, seed: int = 0) -> list[str]:
    """Distinct short messages that all tokenise to exactly ``n_tokens`` tokens.

    Distinct, so no cache answers them; equally long, so every call does the same work.
    """
    rng = random.Random(seed)
    texts: dict[str, None] = {}
    while len(texts) < n:
        text = " ".join(rng.choice(_WORDS) for _ in range(n_tokens - 2))
        if len(tokenizer(text)["input_ids"]) == n_tokens:
            texts[text] = None
    return list(texts)


def machine() -> dict[str, object]:
    """The CPU model, core count, thread setting and library versions behind the figures."""
    model = platform.processor() or "unknown"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(
            (line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line),
            model,
        )
    except (OSError, subprocess.CalledProcessError):
        pass
    import transformers

    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def rss_bytes() -> int:
    """Resident set size of this process, from ``/proc`` (Linux)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def replace_section(path: Path, heading: str, rendered: str) -> None:
    """Replace the section of ``path`` that starts with ``heading`` (up to the next ``## ``
    heading) by ``rendered``, or append ``rendered`` if there is none."""
    text = path.read_text() if path.exists() else ""
    pattern = re.compile(re.escape(heading) + r".*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: rendered + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + rendered + "\n"
    path.write_text(text.strip("\n") + "\n")


def intent_names(intents) -> list[str]:
    """The intents' names as the checkout's classifier encodes them (``name_as_example``), so a
    lookup-table encoder can answer for them; none before names counted as examples."""
    try:
        from intentmeta.validation import descriptive_intent_name
    except ImportError:
        return []
    return [name for name in map(descriptive_intent_name, intents) if name is not None]
