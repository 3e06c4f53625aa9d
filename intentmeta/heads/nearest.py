"""Nearest-example evidence: how close a query comes to each class's closest example."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from intentmeta import ops
from intentmeta.heads.base import FewShotHead, HeadStep
from intentmeta.heads.config import HeadConfig


@dataclass
class NearestExampleConfig:
    """How much of a class's score comes from its nearest example.

    Attributes:
        weight: Share ``a`` of the score taken from ``max_i cos(q, x_i)`` over the class's
            examples, the rest from the class's prototype score; 0 turns the step off.
    """

    weight: float = 0.1  # chosen on BANKING77/CLINC150 validation splits with T=0.1

    @classmethod
    def of(cls, config: HeadConfig) -> NearestExampleConfig:
        """The nearest-example settings of a head's config (its ``nearest_weight``)."""
        return cls(config.nearest_weight)


class NearestExamples(HeadStep):
    """Keeps the unit support examples and mixes ``(1 - a) * score + a * max_i cos(q, x_i)``.

    The prototype sees what a class's examples share; the nearest example keeps a rare phrasing
    from being averaged away. An index (class -> its example rows, padded with -1) lets
    :meth:`evidence_for` read only the examples of a shortlist of classes.

    Example:
        >>> step = NearestExamples(NearestExampleConfig(weight=0.5), dim=2)
        >>> support = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
        >>> step.keep(support, torch.tensor([0, 1, 1]))
        >>> step.evidence(torch.tensor([[1.0, 0.0]]), n_classes=2)
        tensor([[1.0000, 0.6000]])
    """

    def __init__(self, config: NearestExampleConfig, dim: int) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("examples", torch.empty(0, dim))  # (n_support, dim), unit rows
        self.register_buffer("example_columns", torch.empty(0, dtype=torch.long))  # (n_support,)
        # Derived, not saved: row ids of each class's examples, and each example's slot there.
        self.table = torch.empty(0, 1, dtype=torch.long)  # (n_classes, width), -1 padded
        self.filled = torch.empty(0, dtype=torch.long)  # (n_classes,)
        self.slots = torch.empty(0, dtype=torch.long)  # (n_support,)

    @property
    def weight(self) -> float:
        """The share of the score taken from the nearest example."""
        return self.config.weight

    def reset(self, head: FewShotHead, support: torch.Tensor, columns: torch.Tensor) -> None:
        """Keep the head's whole support set."""
        self.keep(support, columns)

    def keep(self, support: torch.Tensor, columns: torch.Tensor) -> None:
        """Keep a whole ``(n_support, dim)`` support set with its ``(n_support,)`` columns."""
        self.set_rows("examples", F.normalize(support, dim=-1))
        self.set_rows("example_columns", columns.long())
        self.index()

    def loaded(self, head: FewShotHead) -> None:
        """Rebuild the index of the restored examples."""
        self.index()

    def index(self) -> None:
        """Rebuild the class -> rows index from ``example_columns`` (after a reset or a load)."""
        columns = self.example_columns
        counts = torch.bincount(columns, minlength=int(columns.max()) + 1 if len(columns) else 0)
        order = torch.argsort(columns, stable=True)
        slots = torch.empty_like(columns)
        slots[order] = torch.arange(len(columns)) - (counts.cumsum(0) - counts)[columns[order]]
        width = int(counts.max()) if len(counts) else 1
        table = torch.full((len(counts), width), -1)
        table[columns, slots] = torch.arange(len(columns))
        self.set_rows("table", table)
        self.set_rows("filled", counts)
        self.set_rows("slots", slots)

    def add(self, head: FewShotHead, support: torch.Tensor, column: int) -> None:
        """Keep ``(n, dim)`` more examples of column ``column`` (an existing or the next one)."""
        n, first = len(support), len(self.examples)
        if column == len(self.filled):
            self.append_rows("table", self.table.new_full((1, self.table.shape[1]), -1))
            self.append_rows("filled", self.filled.new_zeros(1))
        start = int(self.filled[column])
        if start + n > self.table.shape[1]:  # widen: rare, doubles the width
            wider = self.table.new_full((len(self.table), 2 * (start + n)), -1)
            wider[:, : self.table.shape[1]] = self.table
            self.set_rows("table", wider)
        slots = torch.arange(start, start + n)
        self.table[column, slots] = torch.arange(first, first + n)
        self.filled[column] += n
        self.append_rows("examples", F.normalize(support, dim=-1))
        self.append_rows("example_columns", self.example_columns.new_full((n,), column))
        self.append_rows("slots", slots)

    def extend(self, head: FewShotHead, support: torch.Tensor, column: int) -> None:
        """Keep ``(n, dim)`` more examples of an existing column."""
        self.add(head, support, column)

    def drop(self, head: FewShotHead, column: int, last: int) -> None:
        """Forget column ``column``'s examples; column ``last`` takes its number."""
        rows = self.table[column, : int(self.filled[column])]
        names = ("examples", "example_columns", "slots")
        holes, _ = self.remove_rows(names, rows)
        self.table[self.example_columns[holes], self.slots[holes]] = holes  # rows that moved
        if column != last:
            self.table[column], self.filled[column] = self.table[last], self.filled[last]
            self.example_columns[self.table[column, : int(self.filled[column])]] = column
        self.remove_rows(("table", "filled"), torch.tensor([last]))

    def evidence(self, unit_queries: torch.Tensor, n_classes: int) -> torch.Tensor:
        """``(n_query, dim)`` unit queries -> ``(n_query, n_classes)`` nearest-example cosines."""
        cosines = unit_queries @ self.examples.T  # (n_query, n_support)
        return ops.class_max(cosines, self.example_columns, n_classes)

    def evidence_for(self, unit_queries: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
        """Nearest-example cosines of the ``(m,)`` classes ``columns`` only: ``(n_query, m)``."""
        rows = self.table[columns]  # (m, width), -1 padded
        real = rows >= 0
        local = real.nonzero()[:, 0]  # (n_rows,) the position in columns of each example
        cosines = unit_queries @ self.examples.index_select(0, rows[real]).T  # (n_q, n_rows)
        return ops.class_max(cosines, local, columns.shape[0])

    def mix(self, score: torch.Tensor, evidence: torch.Tensor) -> torch.Tensor:
        """``(1 - a) * score + a * evidence``, both ``(n_query, m)``."""
        return (1 - self.weight) * score + self.weight * evidence
