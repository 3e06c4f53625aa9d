"""Per-task adaptation: a linear probe over the support set, initialised from the prototypes."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from intentmeta.heads.base import HeadStep
from intentmeta.heads.config import HeadConfig
from intentmeta.heads.prototypical import PlainPrototypicalHead


@dataclass
class AdaptationConfig:
    """How the prototypes are adapted to a whole support set.

    Attributes:
        steps: Adam steps of the probe's cross-entropy on the support set; 0 turns it off.
        lr: Adam learning rate.
        regularisation: Pull of the adapted weights toward the prototypes.
        max_work: Multiply-adds one fit may spend (steps x examples x classes x dim x 3).
            A support set too big for it is split into blocks of neighbouring classes (by
            repeated halving along the prototypes' main direction), each fitted on its own
            examples with all its steps: the cost grows linearly with the number of classes.
    """

    steps: int = 100  # chosen on BANKING77/CLINC150 validation splits
    lr: float = 0.005  # chosen on the same validation splits
    regularisation: float = 0.1  # keeps few-shot weights near the prototypes
    max_work: float | None = 6e10  # ~2.5 s on 2 cores: CLINC150's 150 x 20 is one block

    @classmethod
    def of(cls, config: HeadConfig) -> AdaptationConfig:
        """The adaptation settings of a head's config (its ``adapt_*`` fields)."""
        return cls(
            config.adapt_steps, config.adapt_lr, config.adapt_regularisation, config.adapt_max_work
        )


class PrototypeAdaptation(HeadStep):
    """Fits ``(n_classes, dim)`` weights and ``(n_classes,)`` biases starting at the prototypes.

    "Prototypes as initialisation" of Proto-MAML (Triantafillou et al., 2020, arXiv:1903.03096),
    without the inner-loop meta-learning: a few Adam steps of cross-entropy on the support set,
    pulled toward the prototypes. It runs only when a whole support set is processed outside
    training; past ``max_work`` (about 220 classes of 10 examples) it runs on blocks of
    neighbouring classes, so 10,000 intents are adapted too. A class added or edited later gets
    its prototype scaled to the adapted rows' mean norm: unscaled, it would be out-shouted (its
    own messages went to it 49% of the time on BANKING77 validation, against 84% when scaled).

    Example:
        >>> step = PrototypeAdaptation(AdaptationConfig(steps=20), dim=2).eval()
        >>> prototypes = F.normalize(torch.tensor([[1.0, 0.2], [0.2, 1.0]]), dim=1)
        >>> step.fit(torch.eye(2), torch.tensor([0, 1]), prototypes, temperature=0.1)
        >>> step.weights.shape, step.bias.shape
        (torch.Size([2, 2]), torch.Size([2]))
    """

    def __init__(self, config: AdaptationConfig, dim: int) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("weights", torch.empty(0, dim))  # (n_classes, dim)
        self.register_buffer("bias", torch.empty(0))  # (n_classes,), in logit units
        self.register_buffer("row_scale", torch.tensor(1.0))  # mean norm of the adapted rows
        self.steps_run = 0  # Adam steps the last fit ran on each block (0: not adapted)
        self.blocks = 0  # blocks of classes the last fit adapted separately

    def block_size(self, n_classes: int, examples_per_class: float, dim: int) -> int:
        """Most classes one block may hold for all its steps to fit in ``max_work``."""
        if self.config.max_work is None:  # no budget: one block, however large
            return max(n_classes, 2)
        work_per_class_squared = 3.0 * examples_per_class * dim * self.config.steps
        return max(int((self.config.max_work / work_per_class_squared) ** 0.5), 2)

    def reset(
        self, head: PlainPrototypicalHead, support: torch.Tensor, columns: torch.Tensor
    ) -> None:
        """Fit the head's prototypes to a whole support set at the head's temperature."""
        self.fit(support, columns, head.prototypes, head.temperature.detach())

    def fit(
        self, support: torch.Tensor, columns: torch.Tensor, prototypes: torch.Tensor, temperature
    ) -> None:
        """Start from ``(n_classes, dim)`` prototypes and fit the whole ``(n_support, dim)`` set."""
        self.set_rows("weights", prototypes)  # a copy: edits of one leave the other alone
        self.set_rows("bias", prototypes.new_zeros(len(prototypes)))
        self.row_scale, self.steps_run, self.blocks = torch.tensor(1.0), 0, 0
        if self.training or self.config.steps <= 0:
            return
        size = self.block_size(len(prototypes), len(support) / len(prototypes), prototypes.shape[1])
        weights, bias = self.weights.clone(), self.bias.clone()
        for block in class_blocks(prototypes.detach(), size):  # (b,) columns each
            position = torch.full((len(prototypes),), -1, dtype=torch.long)
            position[block] = torch.arange(len(block))
            rows = (position[columns] >= 0).nonzero()[:, 0]  # the block's examples
            fitted = self._fit_block(
                support[rows], position[columns[rows]], prototypes[block], float(temperature)
            )
            weights[block], bias[block] = fitted
            self.blocks += 1
        self.set_rows("weights", weights)
        self.set_rows("bias", bias)
        self.row_scale, self.steps_run = self.weights.norm(dim=1).mean(), self.config.steps

    def _fit_block(
        self, support: torch.Tensor, targets: torch.Tensor, prototypes: torch.Tensor, temperature
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(n_block, dim)`` weights and ``(n_block,)`` biases fitted to one block's examples."""
        with torch.inference_mode(False), torch.enable_grad():
            # clone(): encoder outputs may be inference tensors, which autograd cannot save
            inputs = F.normalize(support.detach().clone(), dim=-1)  # (n_support, dim)
            targets, start = targets.clone(), prototypes.detach().clone()  # start: (n, dim)
            weights = start.clone().requires_grad_(True)
            bias = torch.zeros(len(start), requires_grad=True)
            optimiser = torch.optim.Adam([weights, bias], lr=self.config.lr)
            for _ in range(self.config.steps):
                optimiser.zero_grad()
                logits = inputs @ weights.T / temperature + bias  # (n_support, n_block)
                pull = (weights - start).pow(2).sum() / len(start)
                loss = F.cross_entropy(logits, targets)
                (loss + self.config.regularisation * pull).backward()
                optimiser.step()
        return weights.detach(), bias.detach()

    def add(self, head: PlainPrototypicalHead, support: torch.Tensor, column: int) -> None:
        """A new class starts at its prototype, scaled, with no bias."""
        self.append_rows("weights", head.prototypes[-1:] * self.row_scale)  # (1, dim)
        self.append_rows("bias", self.bias.new_zeros(1))

    def extend(self, head: PlainPrototypicalHead, support: torch.Tensor, column: int) -> None:
        """An edited class goes back to its scaled prototype: its fit is stale."""
        self.weights[column], self.bias[column] = head.prototypes[column] * self.row_scale, 0.0

    def drop(self, head: PlainPrototypicalHead, column: int, last: int) -> None:
        """Forget a class; the last one moves into its row."""
        self.remove_rows(("weights", "bias"), torch.tensor([column]))


def class_blocks(prototypes: torch.Tensor, size: int) -> list[torch.Tensor]:
    """Split ``(n, dim)`` prototypes into blocks of at most ``size`` neighbouring classes.

    Halves a block along its main direction (a few deterministic power iterations) until every
    block is small enough, so classes that could be confused tend to share a block.

    Returns:
        Column indices of each block (all of them, once); one block when ``n <= size``.
    """
    blocks, pending = [], [torch.arange(len(prototypes))]
    while pending:
        block = pending.pop()
        if len(block) <= size:
            blocks.append(block)
            continue
        centred = prototypes[block] - prototypes[block].mean(dim=0)  # (b, dim)
        direction = torch.ones(prototypes.shape[1])
        for _ in range(8):
            direction = F.normalize(centred.T @ (centred @ direction), dim=0)  # (dim,)
        order = (centred @ direction).argsort()  # (b,)
        half = len(block) // 2
        pending += [block[order[:half]], block[order[half:]]]
    return blocks
