"""The intent registry: names, examples, their raw embeddings, and each intent's head column.

The registry is the single source of truth for what the classifier knows. Besides each intent's
examples and ``(n_examples, dim)`` embeddings it keeps, in the head's column order, the intent
labels, names and normalised raw prototypes (and an fp16 copy of them for a cheap first pass),
updated row by row on every edit, so that scoring a message never rebuilds anything. Edits move
columns exactly as a :class:`~intentmeta.heads.FewShotHead` does (a new intent is appended; a
removed intent's column is taken by the last one; replacing an intent's examples removes it
and appends it), so column ``i`` of the head's logits is column ``i`` here.

Not thread-safe by itself: callers hold :attr:`IntentRegistry.lock` around reads and edits.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from intentmeta import ops
from intentmeta.heads.rows import RowBuffers


@dataclass
class Intent:
    """One intent: its head label (stable across renames), examples and their embeddings."""

    label: int
    examples: list[str]
    embeddings: torch.Tensor  # (n_examples, dim); replaced, never mutated, on an edit
    _units: tuple[torch.Tensor, torch.Tensor] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def units(self) -> torch.Tensor:
        """``(n_examples, dim)`` unit-length embeddings, kept until the embeddings change."""
        if self._units is None or self._units[0] is not self.embeddings:
            self._units = (self.embeddings, F.normalize(self.embeddings.float(), dim=1))
        return self._units[1]


def prototype(embeddings: torch.Tensor) -> torch.Tensor:
    """``(dim,)`` unit-length mean direction of ``(n, dim)`` raw embeddings."""
    return F.normalize(embeddings.float().sum(dim=0), dim=0)


class ColumnPrototypes(RowBuffers):
    """Unit raw prototypes in column order, and their fp16 copy; rows edit in place.

    Example:
        >>> columns = ColumnPrototypes(dim=2)
        >>> columns.append(torch.tensor([1.0, 0.0]))
        >>> columns.prototypes.shape, columns.half.dtype
        (torch.Size([1, 2]), torch.float16)
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.prototypes = torch.empty(0, dim)  # (n_intents, dim)
        self.half = torch.empty(0, dim, dtype=torch.float16)  # (n_intents, dim)

    def reset(self, prototypes: torch.Tensor) -> None:
        """Replace every row by ``(n_intents, dim)`` prototypes."""
        self.set_rows("prototypes", prototypes)
        self.set_rows("half", prototypes.half())

    def append(self, row: torch.Tensor) -> None:
        """Add a ``(dim,)`` row as the last column."""
        self.append_rows("prototypes", row[None])
        self.append_rows("half", row[None].half())

    def set(self, column: int, row: torch.Tensor) -> None:
        """Replace column ``column`` by a ``(dim,)`` row."""
        self.prototypes[column], self.half[column] = row, row.half()

    def drop(self, column: int) -> None:
        """Remove a column; the last one takes its place."""
        self.remove_rows(("prototypes", "half"), torch.tensor([column]))


class IntentRegistry:
    """Intents by name, in the order they were added, plus their column-ordered prototypes.

    Args:
        dim: Embedding size.

    Example:
        >>> registry = IntentRegistry(dim=2)
        >>> registry.add("refund", ["money back"], torch.tensor([[1.0, 0.0]]))
        0
        >>> registry.column_names, registry.prototypes.shape
        (['refund'], torch.Size([1, 2]))
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.lock = threading.RLock()  # guards everything below, and the classifier's head
        self._intents: dict[str, Intent] = {}
        self.next_label = 0
        # Column order (the head's): replaced, never mutated, on an edit, so a reader holding
        # one can use it as a cache key.
        self.column_labels: tuple[int, ...] = ()
        self.column_names: list[str] = []
        self.columns = ColumnPrototypes(dim)  # unit raw prototypes, column order
        # label -> (1, dim) embedding of the intent's humanised name, when names are examples
        # (ClassifierConfig.name_as_example); kept here so a snapshot of the registry has it.
        self.name_vectors: dict[int, torch.Tensor] = {}

    @property
    def prototypes(self) -> torch.Tensor:
        """``(n_intents, dim)`` unit raw prototypes, in column order."""
        return self.columns.prototypes

    # ----------------------------------------------------------------------------- reading
    def __len__(self) -> int:
        return len(self._intents)

    def __contains__(self, name: object) -> bool:
        return name in self._intents

    def __iter__(self) -> Iterator[str]:
        return iter(self._intents)

    def items(self) -> list[tuple[str, Intent]]:
        """``(name, intent)`` pairs in the order intents were added."""
        return list(self._intents.items())

    def get(self, name: str) -> Intent:
        """The intent called ``name``.

        Raises:
            KeyError: If there is no such intent.
        """
        try:
            return self._intents[name]
        except (KeyError, TypeError):
            close = difflib.get_close_matches(str(name), list(self._intents), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise KeyError(f"no intent named {name!r}{hint}") from None

    def check_new_name(self, name: str, advice: str = "use add_examples() to extend it") -> None:
        """Raise ``ValueError`` if ``name`` is taken, the message ending with ``advice``."""
        if name in self._intents:
            raise ValueError(f"intent {name!r} already exists; {advice}")

    def embeddings(self) -> torch.Tensor:
        """``(n_examples, dim)`` every example's embedding, intents in the order added."""
        if not self._intents:
            return torch.empty(0, self.dim)
        return torch.cat([intent.embeddings for intent in self._intents.values()])

    def positions(self, labels: list[int]) -> torch.Tensor:
        """``(n,)`` position (in the order added) of the intent with each of ``labels``."""
        position = self._position_of_label()
        return torch.tensor([position[label] for label in labels], dtype=torch.long)

    def prototype_evidence(
        self, queries: torch.Tensor, best: torch.Tensor, nearest: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, list[int], torch.Tensor | None]:
        """What out-of-scope rejection reads about ``(n_query, dim)`` raw queries whose chosen
        columns are ``best`` ``(n_query,)``: the ``(n_query,)`` cosine to the chosen intent's
        prototype and to the best other one (exact, from an fp16 first pass), the chosen
        intents' labels, and with ``nearest`` the cosine to the chosen intent's nearest example
        (else ``None``)."""
        unit = F.normalize(queries.float(), dim=1)  # (n_query, dim)
        columns = self.columns
        chosen, runner_up = ops.chosen_and_runner_up(unit, columns.prototypes, columns.half, best)
        labels = self.column_labels
        closest = self._nearest_example_cosines(unit, best) if nearest else None
        return chosen, runner_up, [labels[column] for column in best.tolist()], closest

    def _nearest_example_cosines(self, unit: torch.Tensor, best: torch.Tensor) -> torch.Tensor:
        """``(n_query,)`` cosine of each of ``(n_query, dim)`` unit-length queries to the closest
        example of its chosen column ``best`` ``(n_query,)`` (every intent has one)."""
        names = self.column_names
        if len(best) == 1:  # one message: no grouping
            return (self._intents[names[int(best[0])]].units @ unit[0]).max().reshape(1)
        cosines = torch.empty(len(best))
        for column in best.unique().tolist():
            rows = (best == column).nonzero()[:, 0]  # (n_rows,)
            examples = self._intents[names[column]].units  # (n_examples, dim)
            cosines[rows] = (unit[rows] @ examples.T).max(dim=1).values
        return cosines

    def named_positions(self) -> dict[int, torch.Tensor]:
        """Each name example's ``(1, dim)`` vector by its intent's position (what a save keeps)."""
        position = self._position_of_label()
        return {position[label]: vector for label, vector in self.name_vectors.items()}

    def _position_of_label(self) -> dict[int, int]:
        """Each intent's position in the order added, by its label."""
        return {intent.label: i for i, intent in enumerate(self._intents.values())}

    def owners(self) -> torch.Tensor:
        """``(n_examples,)`` position (in the order added) of each row of :meth:`embeddings`."""
        counts = torch.tensor(
            [len(intent.examples) for intent in self._intents.values()], dtype=torch.long
        )
        return torch.repeat_interleave(torch.arange(len(counts)), counts)

    # ----------------------------------------------------------------------------- editing
    def add(self, name: str, examples: list[str], embeddings: torch.Tensor) -> int:
        """Add an intent as the last column; returns its new label."""
        self.check_new_name(name)
        label = self.next_label
        self.next_label += 1
        self._intents[name] = Intent(label, examples, embeddings)
        self._append_column(label, name, embeddings)
        return label

    def extend(self, name: str, examples: list[str], embeddings: torch.Tensor) -> None:
        """Append examples (already checked to be new) to an intent, keeping its column."""
        intent = self.get(name)
        intent.examples = intent.examples + examples
        intent.embeddings = torch.cat([intent.embeddings, embeddings])
        self.columns.set(self.column_labels.index(intent.label), prototype(intent.embeddings))

    def keep_examples(self, name: str, keep: list[int]) -> None:
        """Keep only the examples at positions ``keep``; the intent's column is removed (the
        last one taking its place) and appended again."""
        intent = self.get(name)
        intent.examples = [intent.examples[i] for i in keep]
        intent.embeddings = intent.embeddings[keep]
        self._drop_column(intent.label)
        self._append_column(intent.label, name, intent.embeddings)

    def remove(self, name: str) -> Intent:
        """Forget an intent; returns it."""
        intent = self.get(name)
        del self._intents[name]
        self._drop_column(intent.label)
        return intent

    def rename(self, old: str, new: str) -> None:
        """Give an intent a new name, keeping its position and column."""
        self.get(old)
        self.check_new_name(new, "choose another name, or remove that intent first")
        self._intents = {new if key == old else key: value for key, value in self._intents.items()}
        self.column_names = [new if name == old else name for name in self.column_names]

    def replace_all(
        self, grouped: dict[str, list[str]], embeddings: torch.Tensor, columns: list[int]
    ) -> None:
        """Swap in a whole new set of intents, labelled ``0..n-1`` in ``grouped``'s order.

        Args:
            grouped: Each intent's examples.
            embeddings: ``(n_examples, dim)``, rows following ``grouped``'s order.
            columns: The labels in the head's column order (a permutation of ``0..n-1``).
        """
        pieces = embeddings.split([len(group) for group in grouped.values()])
        self._intents = {
            name: Intent(label, group, rows)
            for label, (name, group, rows) in enumerate(
                zip(grouped, grouped.values(), pieces, strict=True)
            )
        }
        self.next_label = len(grouped)
        names = list(grouped)
        self.column_labels = tuple(columns)
        self.column_names = [names[label] for label in columns]
        if not names:
            self.columns.reset(torch.empty(0, self.dim))
            return
        self.columns.reset(torch.stack([prototype(pieces[label]) for label in columns]))

    # ----------------------------------------------------------------------------- columns
    def _append_column(self, label: int, name: str, embeddings: torch.Tensor) -> None:
        self.column_labels = (*self.column_labels, label)
        self.column_names = [*self.column_names, name]
        self.columns.append(prototype(embeddings))

    def _drop_column(self, label: int) -> None:
        # As the head does: the last column moves into the removed one, nothing else moves.
        column = self.column_labels.index(label)
        labels, names = list(self.column_labels), self.column_names[:]
        labels[column], names[column] = labels[-1], names[-1]
        self.column_labels, self.column_names = tuple(labels[:-1]), names[:-1]
        self.columns.drop(column)
