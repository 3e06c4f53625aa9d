"""Per-intent statistics of the out-of-scope rule, stacked so an edit costs one row.

For every intent: the sum of its unit example embeddings, their count, the unit prototype, and
the cosine to (and slot of) the nearest other prototype. Rows live in slots (a removed intent's
slot is taken by the last one); ``slot_of`` maps intent labels to slots. Adding or editing an
intent costs one ``(n_intents, dim)`` product for the nearest-other cosines, and nothing is
re-stacked: 10,000 intents edit as fast as 10.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F

from intentmeta.heads.rows import RowBuffers


def intent_sum(embeddings: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``(dim,)`` sum of one intent's ``(n, dim)`` embeddings, made unit first, and ``n``."""
    units = F.normalize(embeddings.float(), dim=1)  # (n, dim)
    return units.sum(dim=0), units.shape[0]


class IntentStatistics(RowBuffers):
    """Stacked per-intent sums, counts, prototypes and nearest-other-prototype cosines.

    Example:
        >>> table = IntentStatistics(dim=2)
        >>> table.set(7, torch.tensor([[1.0, 0.0], [0.8, 0.6]]))
        >>> table.set(9, torch.tensor([[0.0, 1.0]]))
        >>> table.counts.tolist(), round(float(table.nearest[0]), 3)
        ([2, 1], 0.316)
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.slot_of: dict[int, int] = {}  # intent label -> row
        self.labels: list[int] = []  # row -> intent label
        self.register_buffer("totals", torch.empty(0, dim))  # (n, dim) sums of unit examples
        self.register_buffer("counts", torch.empty(0, dtype=torch.long))  # (n,)
        self.register_buffer("prototypes", torch.empty(0, dim))  # (n, dim) unit means
        self.register_buffer("nearest", torch.empty(0))  # (n,) cosine to the nearest other
        self.register_buffer("nearest_slot", torch.empty(0, dtype=torch.long))  # (n,), -1: none

    def __len__(self) -> int:
        return len(self.labels)

    def slots(self, labels) -> torch.Tensor:
        """``(len(labels),)`` rows of these intent labels."""
        return torch.tensor([self.slot_of[label] for label in labels], dtype=torch.long)

    def nearest_of(self, label: int) -> float:
        """Cosine of an intent's prototype to the nearest other one (NaN when alone)."""
        return float(self.nearest[self.slot_of[label]])

    # ----------------------------------------------------------------------------- edits
    def reset(self, intents: Mapping[int, torch.Tensor]) -> None:
        """Replace every intent: ``{label: (n_examples, dim) embeddings}``."""
        self.labels = list(intents)
        self.slot_of = {label: slot for slot, label in enumerate(self.labels)}
        sums = [intent_sum(e) for e in intents.values()]
        totals = torch.stack([t for t, _ in sums]) if sums else torch.empty(0, self.dim)
        self.set_rows("totals", totals)
        self.set_rows("counts", torch.tensor([n for _, n in sums], dtype=torch.long))
        self.set_rows("prototypes", F.normalize(totals, dim=1))
        self.set_rows("nearest", torch.full((len(sums),), math.nan))
        self.set_rows("nearest_slot", torch.full((len(sums),), -1, dtype=torch.long))
        self._recompute_nearest(torch.arange(len(sums)))

    def set(self, label: int, embeddings: torch.Tensor) -> None:
        """Store (or replace) one intent's statistics from its ``(n, dim)`` embeddings."""
        total, count = intent_sum(embeddings)  # (dim,), n
        prototype = F.normalize(total, dim=0)
        slot = self.slot_of.get(label)
        if slot is None:
            slot = self.slot_of[label] = len(self.labels)
            self.labels.append(label)
            self.append_rows("totals", total[None])
            self.append_rows("counts", self.counts.new_tensor([count]))
            self.append_rows("prototypes", prototype[None])
            self.append_rows("nearest", self.nearest.new_tensor([math.nan]))
            self.append_rows("nearest_slot", self.nearest_slot.new_tensor([-1]))
        else:
            self.totals[slot], self.counts[slot], self.prototypes[slot] = total, count, prototype
        cosines = self.prototypes @ prototype  # (n,) one product
        cosines[slot] = -math.inf
        closer = cosines > self.nearest.nan_to_num(-math.inf)  # (n,) it is now their nearest
        moved_away = (self.nearest_slot == slot) & ~closer  # it was, and may no longer be
        self.nearest[closer], self.nearest_slot[closer] = cosines[closer], slot
        self._recompute_nearest(torch.cat([moved_away.nonzero()[:, 0], torch.tensor([slot])]))

    def remove(self, label: int) -> None:
        """Forget one intent; the last row moves into its slot."""
        slot = self.slot_of.pop(label)
        last = len(self.labels) - 1
        orphans = (self.nearest_slot == slot).nonzero()[:, 0]  # their nearest is leaving
        names = ("totals", "counts", "prototypes", "nearest", "nearest_slot")
        self.remove_rows(names, torch.tensor([slot]))
        self.labels[slot] = self.labels[last]
        self.labels.pop()
        if slot != last:
            self.slot_of[self.labels[slot]] = slot
            self.nearest_slot[self.nearest_slot == last] = slot
            orphans = torch.where(orphans == last, slot, orphans)
        self._recompute_nearest(orphans[orphans < len(self.labels)])

    def _recompute_nearest(self, rows: torch.Tensor) -> None:
        """Nearest other prototype of ``rows`` against all: ``(len(rows), n)`` products."""
        n = len(self.labels)
        if n < 2:
            self.nearest.fill_(math.nan)
            self.nearest_slot.fill_(-1)
            return
        for start in range(0, len(rows), 1024):  # (1024, n) blocks bound the memory
            block_rows = rows[start : start + 1024]
            cosines = self.prototypes[block_rows] @ self.prototypes.T  # (b, n)
            cosines[torch.arange(len(block_rows)), block_rows] = -math.inf
            values, columns = cosines.max(dim=1)
            self.nearest[block_rows], self.nearest_slot[block_rows] = values, columns
