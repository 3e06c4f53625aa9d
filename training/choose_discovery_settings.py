"""Choose discovery's defaults on validation data only (never a test split).

Validation sets: CLINC150 ``val`` (3,000 messages, 150 intents) and 30% of each BANKING77 intent's
training rows (3,000 messages, 77 intents). Compared:

* ways to estimate the number of groups (unsupervised, Ward with the estimated K);
* how messages are assigned to known intents (50% of intents known from 10 training examples
  each, K - known new groups): by the classifier's confidence, or by clustering them jointly with
  the examples.

    HF_HUB_OFFLINE=1 python training/choose_discovery_settings.py --data ../shared/data
"""

from __future__ import annotations

import argparse
import json
import random
import time

from intentmeta import IntentClassifier
from intentmeta.discovery import DiscoveryConfig, discover
from intentmeta.research.benchmark_encoders import off_the_shelf_encoder
from intentmeta.research.data import holdout_split, load_dataset
from intentmeta.research.embedding_cache import cached_encode
from intentmeta.research.episodes import sample_k_shot
from intentmeta.research.evaluate_discovery import (
    LookupEncoder,
    clustering_scores,
    safe_names,
)

ESTIMATORS = [
    {"estimator": "silhouette"},
    *({"estimator": "average_linkage", "threshold": t} for t in (0.4, 0.45, 0.5, 0.55, 0.6)),
    *({"estimator": "hdbscan", "min_group_size": m} for m in (3, 5, 10)),
]
ASSIGNMENTS = [{"assignment": "classifier", "assign_confidence": c} for c in (0.0, 0.5, 0.9)] + [
    {"assignment": "joint", "known_share": s} for s in (0.1, 0.2, 0.4)
]


def validation_sets(data: str):
    banking = load_dataset(f"{data}/banking77", "train")
    banking_train, banking_val = holdout_split(banking, 0.3)
    yield "banking77", banking_train, banking_val
    yield (
        "clinc150",
        load_dataset(f"{data}/clinc150", "train"),
        load_dataset(f"{data}/clinc150", "val"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sets", nargs="+", default=["banking77", "clinc150"])
    parser.add_argument("--estimators", nargs="*", type=json.loads, default=ESTIMATORS)
    args = parser.parse_args()
    encoder = off_the_shelf_encoder()
    results = {}
    for name, train, val in validation_sets(args.data):
        if name not in args.sets:
            continue
        texts = list(dict.fromkeys(train.texts + val.texts))
        lookup = LookupEncoder(texts, cached_encode(encoder, texts, progress=False))
        empty = IntentClassifier(encoder=lookup, oos_threshold=None, name_as_example=False)
        k = len(set(val.labels))
        for settings in args.estimators:
            started = time.time()
            found = discover(empty, val.texts, config=DiscoveryConfig(**settings))
            row = clustering_scores(val.labels, found.labels)
            row.update(groups=len(found.groups), true_k=k, seconds=round(time.time() - started))
            results[f"{name} {json.dumps(settings)}"] = row
            print(name, settings, {key: round(v, 2) for key, v in row.items()}, flush=True)
        intents = sorted(set(val.labels))
        for settings in ASSIGNMENTS:
            runs = []
            for seed in range(args.seeds):
                known = sorted(random.Random(seed).sample(intents, len(intents) // 2))
                part = train.subset(intents=known)
                rows = sample_k_shot(part.labels, 10, seed=seed)
                clf = IntentClassifier(encoder=lookup, name_as_example=False)
                clf.fit([part.texts[i] for i in rows], safe_names([part.labels[i] for i in rows]))
                found = discover(
                    clf,
                    val.texts,
                    n_groups=k - len(known),
                    config=DiscoveryConfig(**settings),
                )
                runs.append(clustering_scores(val.labels, found.labels))
            row = {m: sum(r[m] for r in runs) / len(runs) for m in ("NMI", "ARI", "ACC")}
            results[f"{name} 50% known, {json.dumps(settings)}"] = row
            print(
                name,
                "50% known",
                settings,
                {key: round(v, 2) for key, v in row.items()},
                flush=True,
            )
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
