"""Episodic meta-training of a head's projection and temperature on frozen embeddings.

Training never touches the encoder: it runs on a cached ``(n, dim)`` embedding matrix, so
thousands of episodes take minutes on a CPU. What is learned is the head's identity-initialised
projection, its temperature and (Matching Networks) the full-context embedding. A penalty keeps
the projection near the identity and early stopping on class-disjoint validation intents keeps
the best weights, because the trained head must beat the parameter-free one on intents it has
never seen, not on the training intents.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from intentmeta.heads import FewShotHead, HeadConfig, build_head
from intentmeta.heads.weights import head_parameters, load_parameters
from intentmeta.research.episodes import Episode, EpisodeSampler


@dataclass
class TrainConfig:
    """Settings of one meta-training run.

    Attributes:
        head: ``"prototypical"`` or ``"matching"``.
        n_way: Intents per training episode (capped at the number of training intents).
        k_shot: Support examples per intent in an episode.
        n_query: Query examples per intent in an episode.
        episodes: Maximum number of training episodes (one optimiser step each).
        lr: Adam learning rate.
        weight_decay: Adam weight decay (pulls the projection toward zero, not the identity).
        identity_weight: Strength of the ``||W - I||_F^2`` penalty on the projection.
        embedding_noise: Norm of the Gaussian noise added to each training embedding.
        diagonal: Train only the projection's diagonal (a per-dimension reweighting: the
            lowest-capacity projection).
        context_steps: Matching Networks' full-context steps (0: no context embedding).
        learn_temperature: Whether the temperature is trained.
        temperature: Starting temperature.
        validate_every: Episodes between two validations.
        validation_episodes: Fixed episodes averaged at each validation.
        validation_way: Intents per validation episode (0: all validation intents).
        patience: Validations without improvement before stopping (0: never stop early).
        keep_best: Return the best validated weights (off: the last ones, to measure overfitting).
        seed: Seed of episode sampling, noise and initialisation.
        progress: Show a tqdm bar.
    """

    head: str = "prototypical"  # the more accurate head on the benchmarks
    n_way: int = 20  # many ways: harder episodes, closer to scoring all intents at once
    k_shot: int = 5  # the few-shot regime the library is used in
    n_query: int = 5  # enough queries for a stable loss at a small cost
    episodes: int = 1000  # a few minutes on a 2-core CPU
    lr: float = 1e-3  # Adam's usual rate; the projection starts at a good point
    weight_decay: float = 0.0  # decay toward zero would fight the identity initialisation
    identity_weight: float = 1.0  # strong pull to the identity: naive training overfits
    embedding_noise: float = 0.0  # off; a regulariser worth trying on small data
    diagonal: bool = False  # the full d x d projection, held near the identity by the penalty
    context_steps: int = 0  # plain Matching Networks unless asked
    learn_temperature: bool = True  # the temperature is the cheapest thing to adapt
    temperature: float = 0.05  # the parameter-free head's default
    validate_every: int = 50  # often enough for early stopping to catch the best step
    validation_episodes: int = 20  # averaged, so the validation curve is not noise
    validation_way: int = 0  # all validation intents: the closest to real use
    patience: int = 5  # validations without improvement before stopping
    keep_best: bool = True  # the untrained head counts too: training must earn its place
    seed: int = 0  # everything random derives from this
    progress: bool = True  # a tqdm bar on the terminal


@dataclass
class TrainHistory:
    """What happened during training.

    Attributes:
        steps: Episode index of each logged training step.
        loss: Training loss (cross-entropy plus identity penalty) at each logged step.
        accuracy: Training episode query accuracy at each logged step.
        validation_steps: Episode index of each validation (0 is the untrained head).
        validation_accuracy: Mean validation episode accuracy at each validation.
        best_step: Episode of the best validation, whose weights are kept unless
            ``keep_best`` is off (0: the untrained head was best).
        best_validation_accuracy: Validation accuracy of the kept weights.
        stopped_early: Whether patience ran out before ``episodes``.
    """

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    validation_steps: list[int] = field(default_factory=list)
    validation_accuracy: list[float] = field(default_factory=list)
    best_step: int = 0
    best_validation_accuracy: float = float("nan")
    stopped_early: bool = False


def episode_loss(
    head: FewShotHead,
    embeddings: torch.Tensor,
    episode: Episode,
    noise: tuple[float, torch.Generator] | None = None,
) -> tuple[torch.Tensor, float]:
    """Cross-entropy and accuracy of a head on one episode's queries.

    Args:
        head: The head; its support set is replaced.
        embeddings: ``(n, dim)`` embeddings the episode's rows index.
        episode: An episode of :class:`~intentmeta.research.episodes.EpisodeSampler`.
        noise: ``(norm, generator)`` of Gaussian noise added to the episode's embeddings.

    Returns:
        The mean query cross-entropy (differentiable) and the query accuracy.
    """
    query_labels = torch.tensor(episode.query_labels)
    support = _add_noise(embeddings[episode.support_indices], noise)  # (n_way * k_shot, dim)
    queries = _add_noise(embeddings[episode.query_indices], noise)  # (n_way * n_query, dim)
    head.process_support_set(support, torch.tensor(episode.support_labels))
    logits = head(queries)  # (n_way * n_query, n_way)
    accuracy = (logits.argmax(dim=1) == query_labels).float().mean().item()
    return F.cross_entropy(logits, query_labels), accuracy


def identity_penalty(head: FewShotHead) -> torch.Tensor:
    """``||W - I||_F^2`` of the head's projection (zero without one)."""
    if head.projection is None:
        return head.log_temperature.new_zeros(())
    weight = head.projection.weight  # (dim, dim)
    return (weight - torch.eye(weight.shape[0])).pow(2).sum()


def train_head(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    config: TrainConfig | None = None,
    validation: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[FewShotHead, TrainHistory]:
    """Meta-train a head on episodes drawn from labelled embeddings.

    Args:
        embeddings: ``(n, dim)`` frozen training embeddings.
        labels: ``(n,)`` integer intent labels.
        config: Training settings.
        validation: ``(embeddings, labels)`` of intents disjoint from the training ones; without
            it there is no early stopping and the last weights are kept.

    Returns:
        The head with the best weights (an empty support set, in eval mode), and the history.

    Raises:
        ValueError: If fewer than two intents have ``k_shot + n_query`` examples.

    Example:
        >>> import torch
        >>> x, y = torch.randn(60, 8), torch.arange(6).repeat(10)
        >>> config = TrainConfig(n_way=3, k_shot=2, n_query=2, episodes=5, progress=False)
        >>> head, history = train_head(x, y, config)
        >>> head.projection.weight.shape
        torch.Size([8, 8])
    """
    config = config or TrainConfig()
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    n_classes = _classes_with(labels, config.k_shot + config.n_query, "training")
    head = build_head(
        config.head,
        HeadConfig(
            dim=embeddings.shape[1],
            temperature=config.temperature,
            projection=True,
            context_steps=config.context_steps,
        ),
    )
    head.log_temperature.requires_grad_(config.learn_temperature)
    if config.diagonal:
        eye = torch.eye(head.config.dim)  # (dim, dim)
        head.projection.weight.register_hook(lambda grad: grad * eye)
    optimiser = torch.optim.Adam(
        [p for p in head.parameters() if p.requires_grad],
        lr=config.lr,
        weight_decay=config.weight_decay,
    )
    validate = _validator(validation, config) if validation is not None else None
    history = TrainHistory()
    best_state = head_parameters(head)
    if validate is not None:
        history.best_validation_accuracy = validate(head)
        history.validation_steps.append(0)
        history.validation_accuracy.append(history.best_validation_accuracy)
    sampler = EpisodeSampler(
        labels.tolist(), min(config.n_way, n_classes), config.k_shot, config.n_query, config.seed
    )
    episodes = iter(sampler)
    stale = 0
    bar = tqdm(range(1, config.episodes + 1), disable=not config.progress, desc="meta-training")
    for step in bar:
        head.train()
        episode = next(episodes)
        noise = (config.embedding_noise, generator)
        loss, accuracy = episode_loss(head, embeddings, episode, noise)
        loss = loss + config.identity_weight * identity_penalty(head)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        history.steps.append(step)
        history.loss.append(loss.item())
        history.accuracy.append(accuracy)
        if validate is None or step % config.validate_every:
            continue
        score = validate(head)
        history.validation_steps.append(step)
        history.validation_accuracy.append(score)
        bar.set_postfix(loss=f"{loss.item():.3f}", val=f"{score:.3f}")
        if score > history.best_validation_accuracy:
            history.best_validation_accuracy, history.best_step, stale = score, step, 0
            best_state = head_parameters(head)
        else:
            stale += 1
            if config.patience and stale >= config.patience:
                history.stopped_early = True
                break
    if validate is not None and config.keep_best:
        load_parameters(head, best_state)
    head.log_temperature.requires_grad_(True)
    return fresh_copy(head), history


def _classes_with(labels: torch.Tensor, needed: int, what: str) -> int:
    """Number of classes with at least ``needed`` rows; at least two are required."""
    counts = torch.unique(labels, return_counts=True)[1]  # (n_classes,)
    eligible = int((counts >= needed).sum())
    if eligible < 2:
        raise ValueError(f"the {what} data needs at least 2 intents with {needed} examples each")
    return eligible


def _add_noise(
    embeddings: torch.Tensor, noise: tuple[float, torch.Generator] | None
) -> torch.Tensor:
    """Embeddings plus Gaussian noise whose expected norm is ``noise[0]``."""
    if noise is None or noise[0] <= 0:
        return embeddings
    norm, generator = noise
    gaussian = torch.randn(embeddings.shape, generator=generator)  # (n, dim)
    return embeddings + gaussian * (norm / math.sqrt(embeddings.shape[1]))


def _validator(validation: tuple[torch.Tensor, torch.Tensor], config: TrainConfig):
    """A function scoring a head on fixed validation episodes (the same ones every time)."""
    embeddings, labels = validation
    n_classes = _classes_with(labels, config.k_shot + config.n_query, "validation")
    sampler = EpisodeSampler(
        labels.tolist(),
        min(config.validation_way or n_classes, n_classes),
        config.k_shot,
        config.n_query,
        seed=config.seed + 1,
        n_episodes=config.validation_episodes,
    )
    episodes = list(sampler)  # fixed, so successive validations are comparable

    def validate(head: FewShotHead) -> float:
        head.eval()
        with torch.no_grad():
            return sum(episode_loss(head, embeddings, e)[1] for e in episodes) / len(episodes)

    return validate


def fresh_copy(head: FewShotHead) -> FewShotHead:
    """A copy of a head with its learned parameters, no support set, in eval mode."""
    fresh = build_head(head_kind(head), head.config)
    load_parameters(fresh, head_parameters(head))
    return fresh.eval()


def head_kind(head: FewShotHead) -> str:
    """The registry name (``"prototypical"``, ``"matching"``) of a head."""
    from intentmeta.heads import HEADS

    return next(name for name, cls in HEADS.items() if type(head) is cls)


def write_run(
    head: FewShotHead, history: TrainHistory, config: TrainConfig, out: str | Path, **extra
) -> Path:
    """Write a run's weights (``head.safetensors`` + ``head.json``), log and curves to ``out``.

    Args:
        head: The trained head.
        history: Its training history.
        config: The settings it was trained with.
        out: Output directory; created if missing.
        **extra: More JSON facts for ``head.json`` (encoder name, data).

    Returns:
        The output directory.
    """
    from intentmeta.heads.weights import save_head_weights
    from intentmeta.research.meta_training_plots import plot_history

    out = Path(out)
    save_head_weights(head, out, training=asdict(config), **extra)
    (out / "training_log.json").write_text(json.dumps(asdict(history), indent=2))
    plot_history(history, out / "learning_curves.png")
    return out
