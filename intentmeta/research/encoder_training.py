"""Episodic meta-training of the sentence encoder itself (Prototypical Networks, Snell et al. 2017).

The transformer is trained end to end on N-way K-shot episodes: the support messages of each
intent are embedded (mean pooling, L2-normalised, exactly as :class:`~intentmeta.encoder.
SentenceEncoder` does), averaged into prototypes, and the queries are scored by cosine / T. Each
episode is drawn within one *pool* (a source data set, or one of its domains), so its intents are
of one kind. Training stops on a probe of *held-out intents* (never trained on): full-class K-shot
accuracy of plain prototypes, checked every few episodes; the best weights are kept, and the
untrained encoder counts as step 0, so training must earn its place.

What can be varied (the recipe): ways, shots, learning rate, which layers train, a pull toward the
original weights (L2-SP, Li et al. 2018) and interpolation back toward them (WiSE-FT, Wortsman et
al. 2022), and the stopping rule.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from intentmeta import ops
from intentmeta.encoder import mean_pool
from intentmeta.research.episodes import Episode, EpisodeSampler, group_indices


@dataclass
class EncoderTrainingConfig:
    """Settings of one encoder meta-training run.

    Attributes:
        n_way: Intents per episode (capped at the pool's intents).
        k_shot: Support messages per intent.
        n_query: Query messages per intent.
        episodes: Maximum number of episodes (one optimiser step each).
        lr: AdamW learning rate.
        weight_decay: AdamW's decoupled weight decay (toward zero).
        temperature: Cosine logits are divided by it.
        max_length: Token limit while training (intent messages are short).
        top_layers: How many of the top transformer layers train (the rest stay frozen);
            ``None``: all.
        train_embeddings: Whether the token / position embeddings train too.
        anchor_weight: Strength of the L2-SP pull ``||theta - theta_0||^2`` (0: none).
        interpolations: Fractions ``a`` of the way from the original to the trained weights to
            try at the end (``theta_0 + a (theta - theta_0)``); the probe picks one.
        validate_every: Episodes between two probes of the held-out intents.
        patience: Probes without improvement before stopping (0: never stop early).
        probe_shots: Support messages per held-out intent in the probe.
        probe_queries: Query messages per held-out intent in the probe.
        probe_seeds: Support sets averaged at each probe.
        max_minutes: Wall-clock cap on training (0: none); a guard for shared CPUs.
        seed: Seed of episodes, dropout and the probe.
        progress: Show a tqdm bar.
    """

    n_way: int = 48  # many intents per step: harder negatives, like scoring a whole registry
    k_shot: int = 2  # small support sets keep an episode cheap on a CPU
    n_query: int = 2
    episodes: int = 30  # short training: long training forgets what far domains need
    lr: float = 2e-5  # the usual rate for fine-tuning a pre-trained transformer
    weight_decay: float = 0.0  # decay toward zero would pull away from the pre-trained weights
    temperature: float = 0.05  # the parameter-free prototypical head's temperature
    max_length: int = 64  # intent messages are short; 64 tokens cover nearly all of them
    top_layers: int | None = None  # all of them (MiniLM's 6)
    train_embeddings: bool = False  # the word-embedding table is half the weights; keep it
    anchor_weight: float = 0.0  # L2-SP off unless chosen on validation
    interpolations: list[float] = field(default_factory=lambda: [0.5, 0.75, 1.0])  # WiSE-FT
    validate_every: int = 10  # probes are cheap next to training episodes
    patience: int = 3
    probe_shots: int = 5  # the few-shot regime of the acceptance figures
    probe_queries: int = 10
    probe_seeds: int = 3
    max_minutes: float = 0.0
    seed: int = 0
    progress: bool = True


@dataclass
class Pool:
    """Labelled messages that episodes are drawn from (one source, or one domain of it).

    Attributes:
        name: E.g. ``"clinc150"`` or ``"clinc150/banking"``.
        texts: The messages.
        labels: The intent of each message.
    """

    name: str
    texts: list[str]
    labels: list[str]

    @property
    def intents(self) -> list[str]:
        """The distinct intents, in order of first appearance."""
        return list(dict.fromkeys(self.labels))


@dataclass
class TrainingHistory:
    """What happened: per-episode loss and accuracy, and every probe of the held-out intents."""

    episodes: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    probe_episodes: list[int] = field(default_factory=list)
    probe_accuracy: list[float] = field(default_factory=list)
    best_episode: int = 0
    best_probe_accuracy: float = float("nan")
    interpolation: float = 1.0
    stopped_early: bool = False
    seconds: float = 0.0


def embed(model, tokenizer, texts: Sequence[str], max_length: int) -> torch.Tensor:
    """Mean-pooled, L2-normalised sentence embeddings, differentiable when grad is enabled.

    Returns:
        ``(len(texts), hidden)`` unit vectors.
    """
    batch = tokenizer(
        list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt"
    )
    hidden = model(**batch).last_hidden_state  # (n, seq, hidden)
    return F.normalize(mean_pool(hidden, batch["attention_mask"]), dim=-1)  # (n, hidden)


def prototypical_loss(
    support: torch.Tensor,
    support_labels: torch.Tensor,
    queries: torch.Tensor,
    query_labels: torch.Tensor,
    n_way: int,
    temperature: float,
) -> tuple[torch.Tensor, float]:
    """Cross-entropy of cosine-to-prototype logits, and the query accuracy.

    Args:
        support: ``(n_way * k_shot, dim)`` unit vectors.
        support_labels: ``(n_way * k_shot,)`` in ``0..n_way-1``.
        queries: ``(n_way * n_query, dim)`` unit vectors.
        query_labels: ``(n_way * n_query,)``.
        n_way: Intents in the episode.
        temperature: Logit scale is ``1 / temperature``.
    """
    prototypes = ops.compute_prototypes(support, support_labels, n_way)  # (n_way, dim)
    logits = ops.cosine_similarity_matrix(queries, prototypes) / temperature  # (n_q, n_way)
    accuracy = (logits.argmax(dim=1) == query_labels).float().mean().item()
    return F.cross_entropy(logits, query_labels), accuracy


def episode_loss(
    model, tokenizer, pool: Pool, episode: Episode, temperature: float, max_length: int
) -> tuple[torch.Tensor, float]:
    """Embed one episode's messages and return its prototypical loss and query accuracy."""
    texts = [pool.texts[i] for i in episode.support_indices + episode.query_indices]
    vectors = embed(model, tokenizer, texts, max_length)  # (n_support + n_query, dim)
    n_support = len(episode.support_indices)
    return prototypical_loss(
        vectors[:n_support],
        torch.tensor(episode.support_labels),
        vectors[n_support:],
        torch.tensor(episode.query_labels),
        len(episode.classes),
        temperature,
    )


class HeldOutProbe:
    """Full-class K-shot accuracy of plain cosine prototypes on intents never trained on.

    Per held-out intent ``probe_shots + probe_queries`` messages are fixed once; each of
    ``probe_seeds`` support sets takes ``probe_shots`` of them and the others are queries, so one
    encoding pass serves every seed.

    Example:
        >>> probe = HeldOutProbe(["a1", "a2", "b1", "b2"], ["a", "a", "b", "b"], shots=1,
        ...                      queries=1, seeds=1)
        >>> len(probe.texts)
        4
    """

    def __init__(
        self, texts: Sequence[str], labels: Sequence[str], shots: int, queries: int, seeds: int
    ) -> None:
        rng = random.Random(0)
        self.texts: list[str] = []
        self.labels: list[int] = []
        self.shots = shots
        self.seeds = seeds
        for label, rows in enumerate(group_indices(labels).values()):
            if len(rows) <= shots:
                continue  # an intent with no query left cannot be scored
            for row in rng.sample(rows, min(len(rows), shots + queries)):
                self.texts.append(texts[row])
                self.labels.append(label)
        self.n_intents = len(set(self.labels))

    @torch.no_grad()
    def accuracy(self, model, tokenizer, max_length: int) -> float:
        """Mean query accuracy (%) over the probe's support seeds."""
        was_training = model.training
        model.eval()
        vectors = torch.cat(
            [
                embed(model, tokenizer, self.texts[start : start + 128], max_length)
                for start in range(0, len(self.texts), 128)
            ]
        )  # (n_probe, dim)
        model.train(was_training)
        labels = torch.tensor(self.labels)
        scores = []
        for seed in range(self.seeds):
            support = torch.zeros(len(labels), dtype=torch.bool)
            for rows in group_indices(self.labels).values():
                picked = random.Random(seed).sample(rows, self.shots)
                support[picked] = True
            prototypes = ops.compute_prototypes(vectors[support], labels[support], self.n_intents)
            similarity = ops.cosine_similarity_matrix(vectors[~support], prototypes)
            scores.append(float((similarity.argmax(dim=1) == labels[~support]).float().mean()))
        return 100 * sum(scores) / len(scores)


def trainable_parameters(
    model, top_layers: int | None, train_embeddings: bool
) -> dict[str, torch.Tensor]:
    """Freeze the model except its top ``top_layers`` layers (and embeddings if asked).

    Returns:
        ``name -> parameter`` of what trains.
    """
    n_layers = model.config.num_hidden_layers
    top_layers = n_layers if top_layers is None else top_layers
    if not 0 <= top_layers <= n_layers:
        raise ValueError(f"top_layers must be in 0..{n_layers}, not {top_layers}")
    first = n_layers - top_layers
    trainable = {}
    for name, parameter in model.named_parameters():
        layer = _layer_index(name)
        train = (layer is not None and layer >= first) or (
            train_embeddings and name.startswith("embeddings.")
        )
        parameter.requires_grad_(train)
        if train:
            trainable[name] = parameter
    if not trainable:
        raise ValueError("nothing to train: raise top_layers or set train_embeddings")
    return trainable


def _layer_index(name: str) -> int | None:
    parts = name.split(".")
    if "layer" in parts:
        index = parts.index("layer") + 1
        if index < len(parts) and parts[index].isdigit():
            return int(parts[index])
    return None


def train_encoder(
    model,
    tokenizer,
    pools: Sequence[Pool],
    probe: HeldOutProbe,
    config: EncoderTrainingConfig,
    log_path: str | Path | None = None,
) -> TrainingHistory:
    """Meta-train ``model`` in place on episodes from ``pools``; leave it at the kept weights.

    Args:
        model: A Hugging Face encoder (e.g. ``BertModel``), float32.
        tokenizer: Its tokenizer.
        pools: Where episodes come from; a pool is drawn with probability proportional to its
            number of intents, then an episode of ``min(n_way, its intents)`` intents within it.
        probe: Held-out intents for early stopping and for choosing the interpolation.
        config: The recipe.
        log_path: A JSONL file receiving one line per episode and per probe.

    Returns:
        The history; ``model`` holds the best probed weights, interpolated as chosen.
    """
    from tqdm.auto import tqdm

    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    samplers, weights = _samplers(pools, config)
    trainable = trainable_parameters(model, config.top_layers, config.train_embeddings)
    original = {name: p.detach().clone() for name, p in trainable.items()}
    optimizer = torch.optim.AdamW(
        list(trainable.values()), lr=config.lr, weight_decay=config.weight_decay
    )
    history = TrainingHistory()
    log = open(log_path, "w") if log_path else None  # noqa: SIM115 - closed in finally
    started = time.time()
    try:
        best = _probe(model, tokenizer, probe, config, history, 0, log)
        best_state = {name: p.detach().clone() for name, p in trainable.items()}
        history.best_probe_accuracy, stale = best, 0
        model.train()
        bar = tqdm(range(1, config.episodes + 1), desc="meta-training", disable=not config.progress)
        for step in bar:
            sampler = rng.choices(samplers, weights)[0]
            pool = pools[samplers.index(sampler)]
            episode = sampler.sample(rng)
            loss, accuracy = episode_loss(
                model, tokenizer, pool, episode, config.temperature, config.max_length
            )
            if config.anchor_weight:
                drift = sum(((p - original[n]) ** 2).sum() for n, p in trainable.items())
                loss = loss + config.anchor_weight * drift
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history.episodes.append(step)
            history.loss.append(loss.item())
            history.accuracy.append(100 * accuracy)
            _write(log, {"episode": step, "pool": pool.name, "loss": loss.item(), "acc": accuracy})
            bar.set_postfix(loss=f"{loss.item():.3f}", best=f"{history.best_probe_accuracy:.1f}")
            out_of_time = config.max_minutes and time.time() - started > 60 * config.max_minutes
            if step % config.validate_every == 0 or step == config.episodes or out_of_time:
                score = _probe(model, tokenizer, probe, config, history, step, log)
                if score > history.best_probe_accuracy:
                    history.best_probe_accuracy, history.best_episode, stale = score, step, 0
                    best_state = {name: p.detach().clone() for name, p in trainable.items()}
                else:
                    stale += 1
                if (config.patience and stale >= config.patience) or out_of_time:
                    history.stopped_early = True
                    break
        _choose_interpolation(
            model, tokenizer, probe, config, history, trainable, original, best_state, log
        )
    finally:
        history.seconds = round(time.time() - started, 1)
        if log:
            log.close()
    model.eval()
    return history


def _samplers(pools: Sequence[Pool], config: EncoderTrainingConfig):
    samplers, weights = [], []
    for pool in pools:
        n_way = min(config.n_way, len(pool.intents))
        if n_way < 2:
            raise ValueError(f"pool {pool.name!r} has fewer than 2 intents")
        samplers.append(
            EpisodeSampler(pool.labels, n_way, config.k_shot, config.n_query, seed=config.seed)
        )
        weights.append(len(pool.intents))
    return samplers, weights


def _probe(model, tokenizer, probe, config, history, step, log) -> float:
    score = probe.accuracy(model, tokenizer, config.max_length)
    history.probe_episodes.append(step)
    history.probe_accuracy.append(score)
    _write(log, {"episode": step, "probe_accuracy": score})
    return score


@torch.no_grad()
def _choose_interpolation(
    model, tokenizer, probe, config, history, trainable, original, best_state, log
) -> None:
    """Load ``theta_0 + a (theta_best - theta_0)`` for the probe's best ``a``."""
    best_score, best_fraction = -math.inf, 1.0
    for fraction in config.interpolations:
        _set(trainable, original, best_state, fraction)
        score = probe.accuracy(model, tokenizer, config.max_length)
        _write(log, {"interpolation": fraction, "probe_accuracy": score})
        if score > best_score:
            best_score, best_fraction = score, fraction
    _set(trainable, original, best_state, best_fraction)
    history.interpolation = best_fraction
    history.best_probe_accuracy = best_score


def _set(trainable, original, state, fraction: float) -> None:
    for name, parameter in trainable.items():
        parameter.copy_(original[name] + fraction * (state[name] - original[name]))


def _write(log, row: dict) -> None:
    if log is not None:
        log.write(json.dumps(row) + "\n")
        log.flush()
