"""The stacked out-of-scope statistics equal a recomputation from scratch after any edits."""

from __future__ import annotations

import math
import random

import torch
import torch.nn.functional as F

from intentmeta.intent_statistics import IntentStatistics


def nearest_from_scratch(intents: dict[int, torch.Tensor]) -> dict[int, float]:
    prototypes = torch.stack(
        [F.normalize(F.normalize(e, dim=1).sum(dim=0), dim=0) for e in intents.values()]
    )
    cosines = prototypes @ prototypes.T
    cosines.fill_diagonal_(-math.inf)
    return dict(zip(intents, cosines.max(dim=1).values.tolist(), strict=True))


def test_random_edits_keep_every_nearest_other_prototype_exact():
    generator, rng = torch.Generator().manual_seed(0), random.Random(0)
    intents = {label: torch.randn(3, 8, generator=generator) for label in range(30)}
    table = IntentStatistics(dim=8)
    table.reset(intents)
    for _ in range(120):
        choice = rng.random()
        if choice < 0.4 or len(intents) < 3:  # a new intent
            label = rng.randrange(1000, 2000)
            intents[label] = torch.randn(rng.randint(1, 4), 8, generator=generator)
            table.set(label, intents[label])
        elif choice < 0.7:  # more examples for one
            label = rng.choice(list(intents))
            intents[label] = torch.cat([intents[label], torch.randn(1, 8, generator=generator)])
            table.set(label, intents[label])
        else:
            label = rng.choice(list(intents))
            del intents[label]
            table.remove(label)
        expected = nearest_from_scratch(intents)
        assert all(abs(table.nearest_of(lb) - v) < 1e-5 for lb, v in expected.items())
        assert sorted(table.slot_of.values()) == list(range(len(intents)))
        assert table.counts[table.slots(list(intents))].tolist() == [
            len(e) for e in intents.values()
        ]
