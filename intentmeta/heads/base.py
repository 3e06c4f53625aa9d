"""The contract every few-shot head follows: take a support set, then score queries."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import torch
from torch import nn

from intentmeta.heads.rows import RowBuffers


@dataclass
class HeadConfig:
    """Settings shared by the few-shot heads.

    The defaults are the plain, parameter-free heads of the papers (what the evaluation reports
    as "prototypical" and "matching"). ``IntentClassifier`` uses the settings chosen on
    validation splits instead: :func:`intentmeta.config.default_head_config` (temperature 0.1,
    and prototype adaptation with nearest-example mixing, or whitening for matching).

    Attributes:
        dim: Embedding size of the encoder the head sits on.
        metric: ``"cosine"`` or ``"euclidean"`` (negative squared distance).
        temperature: Logits are similarities divided by this; meta-training learns it.
        projection: Add a learnable linear map of the embeddings, initialised to the identity
            (what meta-training adapts; off means a parameter-free head).
        context_steps: Matching Networks only: processing steps of the full-context query
            embedding (0 turns it off).
        adapt_steps: Prototypical only: gradient steps that fit a linear classifier,
            initialised from the prototypes, to the whole support set whenever it is processed
            at once (``fit``, ``load``, ``adapt``); 0 keeps plain prototypes.
        adapt_lr: Adam learning rate of that adaptation.
        adapt_regularisation: Pull of the adapted weights toward the prototypes.
        nearest_weight: Prototypical only: share of the score taken from the class's nearest
            example (cosine) instead of its (adapted) prototype; 0 scores prototypes alone.
        whitening: Matching only: shrinkage of a support-set whitening (centre, then multiply by
            the inverse square root of the within-class covariance shrunk toward isotropy) that
            is fitted whenever the whole support set is processed; ``None`` turns it off.
        adapt_max_work: Multiply-adds one adaptation may spend (steps x examples x classes x
            dim x 3); a larger support set is adapted in blocks of neighbouring classes, each
            within this budget, so the fit's cost grows linearly with the number of intents.
            ``None``: one block at any size (cost growing with the square of the registry).
    """

    dim: int = 384  # all-MiniLM-L6-v2
    metric: str = "cosine"  # cosine beats Euclidean on normalised sentence embeddings
    temperature: float = 0.05  # plain heads; IntentClassifier uses 0.1 (default_head_config)
    projection: bool = False  # parameter-free until meta-training says otherwise
    context_steps: int = 0  # full-context embeddings off unless trained
    adapt_steps: int = 0  # plain prototypes; IntentClassifier turns adaptation on
    adapt_lr: float = 0.005  # chosen on BANKING77/CLINC150 validation splits
    adapt_regularisation: float = 0.1  # keeps few-shot weights near the prototypes
    nearest_weight: float = 0.0  # plain prototypes; IntentClassifier mixes in 0.1
    whitening: float | None = None  # off; IntentClassifier(head="matching") uses 0.7
    adapt_max_work: float | None = 6e10  # ~2.5 s on 2 cores: CLINC150's 150 x 20 is one block


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
    and ``_score``.
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
        self._reset_support(self.embed(support), columns)

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
            self._add_rows(self.embed(support), self.n_classes)
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
                self._extend_row(self.embed(support), column)

    def remove_class(self, label: int) -> None:
        """Forget a class and its support examples.

        Args:
            label: An existing class's label.
        """
        column = self.column_of(label)
        with torch.no_grad():
            self._drop_column(column)
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

    #: Buffer names saved by earlier versions of a head -> today's (read by restore_support).
    renamed_buffers: ClassVar[dict[str, str]] = {}

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
        renamed = {self.renamed_buffers.get(name, name): value for name, value in buffers.items()}
        # A step this head does not have left its (renamed) buffers behind: drop them.
        buffers = {
            name: value
            for name, value in renamed.items()
            if name in own or name not in self.renamed_buffers.values()
        }
        if set(buffers) != set(own):
            return False
        if sorted(buffers["classes"].tolist()) != list(range(n_classes)):
            return False
        try:
            self.load_state_dict({**self.state_dict(), **buffers})
            self._support_loaded()
            self(torch.zeros(1, self.config.dim))  # a damaged buffer fails here, not later
        except (RuntimeError, ValueError):
            return False
        return True

    def _support_loaded(self) -> None:
        """Rebuild whatever is derived from the support buffers after they were loaded."""

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
