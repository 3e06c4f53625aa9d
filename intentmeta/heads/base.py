"""The contract every few-shot head follows (take a support set, then score queries), and the
contract of the optional steps a head keeps in step with its edits."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import ClassVar, NamedTuple

import torch
from torch import nn

from intentmeta.heads.config import HeadConfig
from intentmeta.heads.rows import RowBuffers


class TopClasses(NamedTuple):
    """The best classes of each query (:meth:`FewShotHead.top`).

    Attributes:
        logits: ``(n_query, k)`` logits, best first.
        columns: ``(n_query, k)`` their columns.
        log_normaliser: ``(n_query,)`` log of the softmax normaliser over all classes, so that
            ``exp(logit - log_normaliser)`` is a class's probability.
        exact: ``(n_query,)`` whether the classes are certainly those of the full computation.
    """

    logits: torch.Tensor
    columns: torch.Tensor
    log_normaliser: torch.Tensor
    exact: torch.Tensor


class FewShotHead(RowBuffers, ABC):
    """Base class of the few-shot heads.

    A head holds the support set in buffers (so ``state_dict`` saves it) and turns query
    embeddings into logits of shape ``(n_query, n_classes)``, one column per class in the order
    of ``self.classes``. Class labels are arbitrary integers, checked rather than assumed to be
    ``0..n-1``. Classes can be added, extended and removed one at a time without touching the
    others, which is what keeps adding an intent cheap: removing a class moves the last class
    into its column, so column order is ``self.classes``' order, not the order of addition.

    Subclasses implement ``_reset_support``, ``_add_rows``, ``_extend_row``, ``_drop_column``
    and ``_score``; a head built of optional parts lists them in :meth:`steps`, and each is
    told of every edit after the head's own buffers (:class:`HeadStep`).
    """

    def __init__(self, config: HeadConfig | None = None) -> None:
        super().__init__()
        self.config = config or HeadConfig()
        if self.config.metric not in ("cosine", "euclidean"):
            raise ValueError(f"metric must be 'cosine' or 'euclidean', not {self.config.metric!r}")
        if self.config.temperature <= 0:
            raise ValueError(f"temperature must be positive, not {self.config.temperature}")
        dim = self.config.dim
        self.log_temperature = nn.Parameter(torch.tensor(math.log(self.config.temperature)))
        self.projection: nn.Linear | None = None
        if self.config.projection:
            self.projection = nn.Linear(dim, dim, bias=False)
            with torch.no_grad():
                self.projection.weight.copy_(torch.eye(dim))
        self.register_buffer("classes", torch.empty(0, dtype=torch.long))

    @property
    def n_classes(self) -> int:
        """Number of classes the head currently scores."""
        return int(self.classes.numel())

    @property
    def temperature(self) -> torch.Tensor:
        """The (learnable) softmax temperature."""
        return self.log_temperature.exp()

    def embed(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Apply the learned projection, if any.

        Args:
            embeddings: ``(n, dim)`` encoder outputs.

        Returns:
            ``(n, dim)`` embeddings in the head's metric space.
        """
        return embeddings if self.projection is None else self.projection(embeddings)

    def process_support_set(self, support: torch.Tensor, labels: torch.Tensor) -> None:
        """Replace the whole support set.

        Args:
            support: ``(n_support, dim)`` embeddings.
            labels: ``(n_support,)`` integer class labels, any values.

        Raises:
            ValueError: If shapes disagree, the set is empty, or labels are not integers.
        """
        self._check_embeddings(support, "support")
        if labels.dtype not in (torch.int32, torch.int64) or labels.shape != (support.shape[0],):
            raise ValueError(
                f"labels must be an integer tensor of shape ({support.shape[0]},), "
                f"got {labels.dtype} {tuple(labels.shape)}"
            )
        if support.shape[0] == 0:
            raise ValueError("the support set is empty")
        classes, columns = torch.unique(labels.long(), sorted=True, return_inverse=True)
        self.set_rows("classes", classes)
        support = self.embed(support)  # (n_support, dim)
        self._reset_support(support, columns)
        for step in self.steps():
            step.reset(self, support, columns)

    def add_class(self, label: int, support: torch.Tensor) -> None:
        """Add one class from its support examples, leaving the other classes untouched.

        Args:
            label: The new class's label; must not be present.
            support: ``(n_examples, dim)`` embeddings, at least one.

        Raises:
            ValueError: If the label exists or the support set is empty or misshapen.
        """
        self._check_embeddings(support, "support")
        if support.shape[0] == 0:
            raise ValueError(f"class {label} needs at least one example")
        if bool((self.classes == label).any()):
            raise ValueError(f"class {label} already exists")
        with torch.no_grad():
            support, column = self.embed(support), self.n_classes  # the new class is the last
            self._add_rows(support, column)
            for step in self.steps():
                step.add(self, support, column)
        self.append_rows("classes", self.classes.new_tensor([label]))

    def extend_class(self, label: int, support: torch.Tensor) -> None:
        """Add support examples to an existing class.

        Args:
            label: An existing class's label.
            support: ``(n_examples, dim)`` embeddings.
        """
        self._check_embeddings(support, "support")
        column = self.column_of(label)
        if support.shape[0]:
            with torch.no_grad():
                support = self.embed(support)
                self._extend_row(support, column)
                for step in self.steps():
                    step.extend(self, support, column)

    def remove_class(self, label: int) -> None:
        """Forget a class and its support examples.

        Args:
            label: An existing class's label.
        """
        column = self.column_of(label)
        with torch.no_grad():
            self._drop_column(column)
            for step in self.steps():
                step.drop(self, column, self.n_classes - 1)  # classes still holds the column
        self.remove_rows(("classes",), torch.tensor([column]))

    def column_of(self, label: int) -> int:
        """Logit column of a class label.

        Raises:
            KeyError: If the head has no such class.
        """
        hits = (self.classes == label).nonzero()
        if hits.numel() == 0:
            raise KeyError(f"unknown class {label}")
        return int(hits[0, 0])

    def steps(self) -> list[HeadStep]:
        """The head's optional parts, in the order they are told of an edit (none here)."""
        return []

    def forward(self, queries: torch.Tensor) -> torch.Tensor:
        """Score queries against every class.

        Args:
            queries: ``(n_query, dim)`` embeddings.

        Returns:
            ``(n_query, n_classes)`` logits, columns in the order of ``self.classes``.
        """
        self._check_embeddings(queries, "queries")
        if self.n_classes == 0:
            raise RuntimeError("the head has no classes: give it a support set first")
        similarity = self._score(self.embed(queries))  # (n_query, n_classes)
        return similarity / self.temperature

    def top(self, queries: torch.Tensor, k: int) -> TopClasses:
        """The ``k`` best classes of each query, without necessarily scoring every class.

        This base version scores every class; a head that can bound the classes it skips
        overrides it (see :meth:`PrototypicalHead.top`).

        Args:
            queries: ``(n_query, dim)`` embeddings.
            k: How many classes to return (fewer if the head has fewer).
        """
        logits = self(queries)  # (n_query, n_classes)
        best = logits.topk(min(k, self.n_classes), dim=1)
        exact = torch.ones(len(logits), dtype=torch.bool)
        return TopClasses(best.values, best.indices, logits.logsumexp(dim=1), exact)

    def similarities(self, queries: torch.Tensor) -> torch.Tensor:
        """Temperature-free evidence of each class, used to tell out-of-scope messages apart.

        Args:
            queries: ``(n_query, dim)`` embeddings.

        Returns:
            ``(n_query, n_classes)``: cosine similarities, or negative squared distances.
        """
        return self.forward(queries) * self.temperature

    #: State names (buffers and parameters) saved by earlier versions of a head -> today's,
    #: read by :meth:`restore_support` and :func:`intentmeta.heads.weights.load_parameters`.
    renamed_state: ClassVar[dict[str, str]] = {}

    def restore_support(self, buffers: dict[str, torch.Tensor] | None, n_classes: int) -> bool:
        """Load a saved support state (classes ``0..n_classes-1``) whole, or not at all.

        Args:
            buffers: Saved buffers (``named_buffers`` names), or ``None``.
            n_classes: How many classes the state must hold.

        Returns:
            Whether the state was loaded; ``False`` (head to be rebuilt from its support set)
            when there is none, a buffer is missing, or it does not fit this head.
        """
        own = dict(self.named_buffers())
        if not buffers:
            return False
        renamed = {self.renamed_state.get(name, name): value for name, value in buffers.items()}
        # A step this head does not have left its (renamed) buffers behind: drop them.
        buffers = {
            name: value
            for name, value in renamed.items()
            if name in own or name not in self.renamed_state.values()
        }
        if set(buffers) != set(own):
            return False
        if sorted(buffers["classes"].tolist()) != list(range(n_classes)):
            return False
        try:
            self.load_state_dict({**self.state_dict(), **buffers})
            for step in self.steps():
                step.loaded(self)
            self(torch.zeros(1, self.config.dim))  # a damaged buffer fails here, not later
        except (RuntimeError, ValueError):
            return False
        return True

    def _check_embeddings(self, embeddings: torch.Tensor, name: str) -> None:
        if embeddings.ndim != 2 or embeddings.shape[1] != self.config.dim:
            raise ValueError(
                f"{name} must have shape (n, {self.config.dim}), got {tuple(embeddings.shape)}"
            )

    @abstractmethod
    def _reset_support(self, support: torch.Tensor, columns: torch.Tensor) -> None:
        """Store ``(n_support, dim)`` projected support with ``(n_support,)`` column indices."""

    @abstractmethod
    def _add_rows(self, support: torch.Tensor, column: int) -> None:
        """Store a new class's projected support as column ``column`` (the last one)."""

    @abstractmethod
    def _extend_row(self, support: torch.Tensor, column: int) -> None:
        """Add projected support examples to column ``column``."""

    @abstractmethod
    def _drop_column(self, column: int) -> None:
        """Delete column ``column`` and its support; the last column moves into its place."""

    @abstractmethod
    def _score(self, queries: torch.Tensor) -> torch.Tensor:
        """``(n_query, dim)`` projected queries -> ``(n_query, n_classes)`` similarities."""


class HeadStep(RowBuffers):
    """An optional part of a head, kept in step with the head's edits.

    After the head has updated its own buffers for an edit, it calls each of its
    :meth:`~FewShotHead.steps` in order: ``reset`` for a whole support set, ``add`` for a new
    class (the last column), ``extend`` for more examples of one, ``drop`` when class ``column``
    is removed and column ``last`` moves into its place (``head.classes`` still holds both),
    ``loaded`` after the step's buffers were restored from a save. Each hook gets the head, to
    read what the step follows (its prototypes, temperature or scoring rows), and the projected
    ``(n, dim)`` support embeddings of the edit. The hooks here do nothing.
    """

    def reset(self, head: FewShotHead, support: torch.Tensor, columns: torch.Tensor) -> None:
        """A whole support set, with its ``(n_support,)`` columns."""

    def add(self, head: FewShotHead, support: torch.Tensor, column: int) -> None:
        """A new class, now the last column ``column``."""

    def extend(self, head: FewShotHead, support: torch.Tensor, column: int) -> None:
        """More examples of class ``column``."""

    def drop(self, head: FewShotHead, column: int, last: int) -> None:
        """Class ``column`` is removed; column ``last`` takes its place."""

    def loaded(self, head: FewShotHead) -> None:
        """The buffers were restored from a save."""
