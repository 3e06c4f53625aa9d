"""Every decision of the default classifier, recorded, so two versions of the code can be compared.

Records, for BANKING77 and CLINC150 (10-shot, seeds 0-4, full-class protocol of
``research.evaluate``), each test message's predicted intent; and for CLINC150's test split with
its out-of-scope messages (10-shot, seeds 0-4, as ``research.evaluate_oos``), each message's
intent, rejection, confidence, similarity and listed probabilities. ``compare`` prints what
differs between two recordings.

    python benchmarks/decisions.py record before.pt --data ../shared/data   # old checkout
    python benchmarks/decisions.py record after.pt --data ../shared/data    # new checkout
    python benchmarks/decisions.py compare before.pt after.pt

``--head matching`` records ``IntentClassifier(head="matching")`` instead. ``--pinned`` fixes
every setting (encoder, head configuration, ``name_as_example``, ``top_k``) to the values in
``PINNED_HEADS`` rather than the defaults of the checkout, so that a comparison of a refactoring
against its base commit is not confused by defaults that changed on main meanwhile. The script
imports ``intentmeta`` from ``PYTHONPATH``: run this copy against an older checkout with
``PYTHONPATH=path/to/old/checkout``.
"""

from __future__ import annotations

import argparse
import os
import random
from functools import partial
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from bench_common import intent_names

SEEDS = range(5)

#: ``HeadConfig`` fields used with ``--pinned``: the defaults as of issue 11's head split.
PINNED_HEADS = {
    "prototypical": dict(
        metric="cosine",
        temperature=0.1,
        projection=False,
        adapt_steps=100,
        adapt_lr=0.005,
        adapt_regularisation=0.1,
        adapt_max_work=6e10,
        nearest_weight=0.1,
    ),
    "matching": dict(
        metric="cosine", temperature=0.1, projection=False, context_steps=0, whitening=0.7
    ),
}


def classifier_settings(head: str, pinned: bool) -> dict:
    """``IntentClassifier`` keyword arguments besides the encoder and the threshold."""
    if not pinned:
        return {"head": head}
    from intentmeta.heads import HeadConfig

    config = HeadConfig(**PINNED_HEADS[head])
    return {"head": head, "head_config": config, "top_k": 5, "name_as_example": False}


class Table:
    """An encoder that looks texts up in precomputed embeddings."""

    def __init__(self, name: str, table: dict[str, torch.Tensor], dim: int) -> None:
        self.name, self.table, self.dim = name, table, dim

    def encode(self, batch, *, progress: bool = False) -> torch.Tensor:
        return torch.stack([self.table[text] for text in batch])


def off_the_shelf_name() -> str:
    """The published all-MiniLM-L6-v2 in the checkout under test (``"default"`` meant it until
    the meta-learned encoder shipped)."""
    try:
        from intentmeta.shipped_encoders import OFF_THE_SHELF
    except ImportError:
        return "default"
    return OFF_THE_SHELF


def pinned_predictions(settings: dict, support, labels, queries, n_classes) -> torch.Tensor:
    """As ``research.evaluate.classifier_method``, with every setting given explicitly."""
    from intentmeta import IntentClassifier

    rows = torch.cat([support, queries])  # (n_support + n_query, dim)
    keys = [f"row{i}" for i in range(len(rows))]
    encoder = Table("precomputed-embeddings", dict(zip(keys, rows, strict=True)), rows.shape[1])
    names = [f"intent{c}" for c in range(n_classes)]
    clf = IntentClassifier(encoder=encoder, oos_threshold=None, **settings)
    clf.fit(keys[: len(support)], [names[int(c)] for c in labels])
    column = {name: c for c, name in enumerate(names)}
    return torch.tensor([column[name] for name in clf.predict(keys[len(support) :])])


def record(data: Path, out: Path, head: str = "prototypical", pinned: bool = False) -> None:
    """Fit the classifier per seed and save every decision to ``out``."""
    from intentmeta import IntentClassifier
    from intentmeta.encoder import EncoderConfig, shared_encoder

    try:
        from intentmeta.research.data import load_dataset
        from intentmeta.research.embedding_cache import cached_encode
        from intentmeta.research.episodes import sample_k_shot
        from intentmeta.research.evaluate import classifier_method
        from intentmeta.research.evaluate_oos import load_clinc150
    except ImportError:  # a checkout from before the research package (commit 980ab9e)
        from intentmeta.data import load_dataset
        from intentmeta.embedding_cache import cached_encode
        from intentmeta.episodes import sample_k_shot
        from intentmeta.evaluate import classifier_method
        from intentmeta.evaluate_oos import load_clinc150

    torch.set_num_threads(1)
    encoder = shared_encoder(EncoderConfig(model=off_the_shelf_name()))
    settings = classifier_settings(head, pinned)
    method = partial(pinned_predictions, settings) if pinned else classifier_method(head)
    result: dict = {"accuracy": {}, "oos": []}
    for name in ("banking77", "clinc150"):
        train = load_dataset(str(data / name), "train")
        test = load_dataset(str(data / name), "test")
        train_x = cached_encode(encoder, train.texts, None, False)
        test_x = cached_encode(encoder, test.texts, None, False)
        column = {intent: c for c, intent in enumerate(sorted(set(train.labels)))}
        pool_y = torch.tensor([column[label] for label in train.labels])
        keep = [i for i, label in enumerate(test.labels) if label in column]
        truth = torch.tensor([column[test.labels[i]] for i in keep])
        runs = []
        for seed in SEEDS:
            rows = torch.tensor(sample_k_shot(train.labels, 10, seed))
            runs.append(method(train_x[rows], pool_y[rows], test_x[keep], len(column)))
        result["accuracy"][name] = {"predicted": torch.stack(runs), "truth": truth}
    split, train = load_clinc150(data / "clinc150", "test")
    queries = split.texts + split.oos_texts
    texts = [t for group in train.values() for t in group] + queries + intent_names(train)
    table = dict(zip(texts, cached_encode(encoder, texts, None, False), strict=True))
    lookup = Table(encoder.name, table, encoder.dim)
    for seed in SEEDS:  # as research.evaluate_oos.run_seed draws the support sets
        rng = random.Random(seed)
        texts, labels = [], []
        for intent in sorted(train):
            chosen = rng.sample(train[intent], min(10, len(train[intent])))
            texts, labels = texts + chosen, labels + [intent] * len(chosen)
        clf = IntentClassifier(encoder=lookup, oos_threshold="auto", **settings)
        predictions = clf.fit(texts, labels).classify_batch(queries)
        result["oos"].append(
            {
                "intent": [p.intent for p in predictions],
                "rejected": torch.tensor([p.is_out_of_scope for p in predictions]),
                "confidence": torch.tensor([p.confidence for p in predictions]),
                "similarity": torch.tensor([p.similarity for p in predictions]),
                "scores": [p.scores for p in predictions],
                "truth": split.labels + [None] * len(split.oos_texts),
            }
        )
    torch.save(result, out)


def compare(before: Path, after: Path) -> None:
    """Print accuracy and every difference between two recordings."""
    a, b = torch.load(before, weights_only=False), torch.load(after, weights_only=False)
    for name, old in a["accuracy"].items():
        new, truth = b["accuracy"][name]["predicted"], old["truth"]
        acc = [[100 * float((p == truth).float().mean()) for p in r["predicted"]] for r in (old,)]
        acc.append([100 * float((p == truth).float().mean()) for p in new])
        print(
            f"{name} 10-shot accuracy, mean of 5 seeds: before {sum(acc[0]) / 5:.2f}, after "
            f"{sum(acc[1]) / 5:.2f}; predictions that differ: "
            f"{int((old['predicted'] != new).sum())} of {new.numel()}"
        )
    differ = {"intent": 0, "rejected": 0, "listed": 0}
    worst = {"confidence": 0.0, "similarity": 0.0, "probability": 0.0}
    counts = {"messages": 0, "in_scope": 0, "oos": 0}
    right = {"before": [0, 0], "after": [0, 0]}
    for old, new in zip(a["oos"], b["oos"], strict=True):
        counts["messages"] += len(old["intent"])
        differ["intent"] += sum(x != y for x, y in zip(old["intent"], new["intent"], strict=True))
        differ["rejected"] += int((old["rejected"] != new["rejected"]).sum())
        for key in ("confidence", "similarity"):
            worst[key] = max(worst[key], float((old[key] - new[key]).abs().max()))
        for s, t in zip(old["scores"], new["scores"], strict=True):
            differ["listed"] += list(s) != list(t)
            worst["probability"] = max(worst["probability"], *(abs(s[k] - t.get(k, 0)) for k in s))
        for run, key in ((old, "before"), (new, "after")):
            for intent, rejected, truth in zip(
                run["intent"], run["rejected"].tolist(), old["truth"], strict=True
            ):
                if truth is None:
                    right[key][1] += rejected
                else:
                    right[key][0] += intent == truth
        counts["in_scope"] += sum(t is not None for t in old["truth"])
        counts["oos"] += sum(t is None for t in old["truth"])
    print(
        f"CLINC150 test with out-of-scope, 10-shot, 5 seeds, {counts['messages']} messages: "
        f"intents that differ {differ['intent']}, rejections that differ {differ['rejected']}, "
        f"listed intents that differ {differ['listed']}; largest change of a confidence "
        f"{worst['confidence']:.1e}, of a similarity {worst['similarity']:.1e}, of a listed "
        f"probability {worst['probability']:.4f}"
    )
    for key, (ok, rejected) in right.items():
        print(
            f"  {key}: in-scope accuracy {100 * ok / counts['in_scope']:.2f}, out-of-scope "
            f"recall {100 * rejected / counts['oos']:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["record", "compare"])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--head", choices=["prototypical", "matching"], default="prototypical")
    parser.add_argument("--pinned", action="store_true", help="settings of PINNED_HEADS")
    args = parser.parse_args()
    if args.command == "record":
        record(args.data, args.files[0], args.head, args.pinned)
    else:
        compare(*args.files[:2])


if __name__ == "__main__":
    main()
