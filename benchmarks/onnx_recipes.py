"""Choose the ONNX int8 recipe on held-out data: accuracy lost and speed-up of each variant.

Accuracy: the default classifier's full-class 10-shot accuracy on 30% of BANKING77's *train*
split held out and on CLINC150's *validation* split, paired with torch float32 on the same
support sets; no test split is read. Speed: one 12-token message through
``SentenceEncoder.forward``, torch float32 and every variant interleaved in one process (so a
loaded machine slows them alike), medians; each variant right after a float32 call, as in
``make bench``.

    python benchmarks/onnx_recipes.py --data ../shared/data --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from dataclasses import asdict, replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from bench_common import interleaved, machine, replace_section, same_length_texts, summary
from onnx_int8 import ten_shot_accuracy

from intentmeta.encoder import EncoderConfig, SentenceEncoder
from intentmeta.onnx_backend import OnnxRecipe, onnx_int8_model
from intentmeta.research.data import train_and_evaluation
from intentmeta.research.embedding_cache import cached_encode
from intentmeta.shipped_encoders import OFF_THE_SHELF

HEADING = "## Choosing the ONNX int8 recipe (held-out data)"

#: The variants compared, by name: "default" is :class:`OnnxRecipe` as shipped, each other one
#: changes one of its settings ("float32 attention" is the recipe before this comparison).
VARIANTS = {
    "default": OnnxRecipe(),
    "float32 attention": OnnxRecipe(quantize_attention=False),
    "7-bit weights (reduce_range)": OnnxRecipe(reduce_range=True),
    "per-tensor scales": OnnxRecipe(per_channel=False),
    "unfused": OnnxRecipe(fuse=False),
}


def recipe_encoder(recipe: OnnxRecipe) -> SentenceEncoder:
    """The off-the-shelf MiniLM on ONNX Runtime, exported with ``recipe`` (cached like the
    backend). Off the shelf: the shipped meta-learned encoder was trained on both data sets."""
    encoder = SentenceEncoder(EncoderConfig(model=OFF_THE_SHELF, cache_size=0))
    encoder.model = onnx_int8_model(encoder.model, encoder.tokenizer, recipe)
    # The backend name keeps the on-disk embedding cache apart from float32 (with the export key).
    encoder.config = replace(encoder.config, backend="onnx-int8")
    return encoder


def held_out_accuracy(encoder: SentenceEncoder, data: Path, seeds: int) -> dict[str, list[float]]:
    """10-shot accuracy (%) per seed on the BANKING77 hold-out and on CLINC150 validation."""
    return {
        "banking77 (30% of train)": ten_shot_accuracy(
            encoder, str(data / "banking77"), seeds, validation=0.3
        ),
        "clinc150 (val)": ten_shot_accuracy(encoder, str(data / "clinc150"), seeds, split="val"),
    }


def mean_cosine(encoder: SentenceEncoder, fp32: SentenceEncoder, data: Path) -> float:
    """Mean cosine of ``encoder``'s embeddings to float32's on the held-out texts of both sets."""
    texts = [
        *train_and_evaluation(data / "banking77", "test", validation=0.3)[1].texts,
        *train_and_evaluation(data / "clinc150", "val")[1].texts,
    ]
    ours = cached_encode(encoder, texts, None, False)  # (n, dim), unit rows
    theirs = cached_encode(fp32, texts, None, False)  # (n, dim)
    return float((ours * theirs).sum(dim=1).mean())


def speed(encoders: dict[str, SentenceEncoder], repeats: int) -> dict[str, dict]:
    """Single-message timings of every encoder, interleaved, and each one's speed-up.

    Each variant runs right after a torch float32 call, as in ``make bench``'s A/B alternation
    (whatever follows float32's 90 MB sweep of weights starts with a colder cache), and its
    speed-up is against the float32 calls of the same rounds.
    """
    fp32 = encoders["torch fp32"]
    texts = same_length_texts(fp32.tokenizer, repeats + 5, seed=5)
    for text in texts[:5]:  # warm-up: first calls allocate
        for encoder in encoders.values():
            encoder.forward([text])
    texts = texts[5:]
    variants = [name for name in encoders if name != "torch fp32"]
    calls = {}
    for name in variants:
        calls[f"torch fp32 before {name}"] = _forward_call(fp32, texts)
        calls[name] = _forward_call(encoders[name], texts)
    times = interleaved(calls, repeats)
    timings = {
        "torch fp32": summary([t for name in variants for t in times[f"torch fp32 before {name}"]])
    }
    timings["torch fp32"]["speedup"] = 1.0
    for name in variants:
        before = times[f"torch fp32 before {name}"]
        timings[name] = summary(times[name])
        timings[name]["speedup"] = summary(before)["median"] / timings[name]["median"]
        # Per round: robust to the load changing during the run.
        timings[name]["paired_speedup"] = statistics.median(
            a / b for a, b in zip(before, times[name], strict=True)
        )
    return timings


def _forward_call(encoder: SentenceEncoder, texts: list[str]):
    return lambda i: encoder.forward([texts[i]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--seeds", type=int, default=10, help="support sets per data set")
    parser.add_argument("--repeats", type=int, default=300, help="timed calls per encoder")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=Path("results/onnx_recipes.json"))
    parser.add_argument("--skip-accuracy", action="store_true", help="only the speed-ups")
    parser.add_argument(
        "--accuracy-from", type=Path, help="take the accuracies from an earlier run's JSON"
    )
    parser.add_argument("--markdown", type=Path, help="write the section into this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    encoders = {"torch fp32": SentenceEncoder(EncoderConfig(model=OFF_THE_SHELF, cache_size=0))}
    encoders.update({name: recipe_encoder(VARIANTS[name]) for name in args.variants})
    results: dict = {"machine": machine(), "seeds": args.seeds, "load_average": os.getloadavg()[0]}
    results["recipes"] = {name: asdict(VARIANTS[name]) for name in args.variants}
    results["speed"] = speed(encoders, args.repeats)
    if args.accuracy_from:  # e.g. re-timing on a quieter machine
        earlier = json.loads(args.accuracy_from.read_text())
        results["seeds"] = earlier["seeds"]
        # Matched by recipe, not by name: a variant may have been renamed since.
        recipes = earlier["recipes"].items()
        named = {json.dumps(recipe, sort_keys=True): name for name, recipe in recipes}
        results["accuracy"] = {"torch fp32": earlier["accuracy"]["torch fp32"]}
        for name in args.variants:
            recipe = json.dumps(asdict(VARIANTS[name]), sort_keys=True)
            results["accuracy"][name] = earlier["accuracy"][named[recipe]]
    elif not args.skip_accuracy:
        results["accuracy"] = {
            name: held_out_accuracy(encoder, args.data, args.seeds)
            for name, encoder in encoders.items()
        }
    if "accuracy" in results:
        fp32 = encoders["torch fp32"]
        results["mean_cosine"] = {
            name: mean_cosine(encoder, fp32, args.data) for name, encoder in encoders.items()
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    if args.markdown:
        replace_section(args.markdown, HEADING, section(results))


def section(results: dict) -> str:
    """The BENCHMARKS.md section: how the variants were compared, and the table."""
    m = results["machine"]
    return "\n".join(
        [
            HEADING,
            "",
            "`python benchmarks/onnx_recipes.py`: every variant of the `onnx-int8` export "
            "(`intentmeta.onnx_backend.OnnxRecipe`) of the off-the-shelf all-MiniLM-L6-v2 against "
            "torch float32. Accuracy: the "
            "default classifier's 10-shot accuracy on held-out data only (30% of BANKING77's "
            "train split; CLINC150's validation split), same support sets for every variant, "
            f"seeds 0–{results['seeds'] - 1}, points lost = float32 mean − variant mean; mean "
            "cosine of each held-out text's embedding to its float32 one. Speed: "
            "one 12-token message through `SentenceEncoder.forward`, all variants interleaved "
            "in one process, each right after a float32 call; speed-up = float32 median / "
            "variant median (paired: median of the per-round ratios). "
            f"{m['date']}, {m['cpu']}, {m['cores']} cores, {m['torch_threads']} thread(s), "
            f"1-minute load average {results['load_average']:.1f} at the start. Other jobs "
            "slow float32 more than int8, so speed-ups measured under load run high; the "
            "issue-14 section's (`make bench`) is the figure to quote.",
            "",
            table(results),
            "",
            "The rule behind the default: among the variants losing at most 0.25 points on both "
            "sets (the spread of one seed's paired difference), the fastest; between equally "
            "fast ones, the higher mean cosine.",
        ]
    )


def table(results: dict) -> str:
    """A markdown table: speed-up and points lost on each held-out set, per variant."""
    accuracy = results.get("accuracy", {})
    sets = list(accuracy.get("torch fp32", {}))
    cosines = results.get("mean_cosine", {})
    header = ["variant", "single message", "speed-up", *(f"{s}: points lost" for s in sets)]
    header += ["mean cosine to float32"] if cosines else []
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for name, stats in results["speed"].items():
        lost = [
            statistics.mean(accuracy["torch fp32"][s]) - statistics.mean(accuracy[name][s])
            for s in sets
        ]
        paired = f" (paired {stats['paired_speedup']:.2f}×)" if "paired_speedup" in stats else ""
        cells = [name, f"{stats['median']:.2f} ms", f"{stats['speedup']:.2f}×{paired}"]
        cells += [f"{points:+.2f}" for points in lost]
        cells += [f"{cosines[name]:.4f}"] if cosines else []
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
