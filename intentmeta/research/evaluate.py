"""Few-shot accuracy: full-class K-shot and episodic N-way K-shot, all methods on one embedding set.

Two protocols, both on one set of cached frozen-encoder embeddings:

* **Full-class K-shot**: per seed, K training examples of every intent are the support set and the
  whole evaluation split is classified; accuracy and macro-F1 are reported as mean ± 95% CI over
  seeds (Student's t).
* **Episodic N-way K-shot**: random episodes among intents held out of meta-training
  (:func:`intentmeta.research.episodes.meta_split`), support and queries drawn from the
  evaluation split;
  mean accuracy ± 95% CI over episodes.

Methods side by side: 1-NN cosine, logistic regression, the prototypical and matching heads
(parameter-free), ``IntentClassifier(head="matching")`` and the default
:class:`~intentmeta.IntentClassifier`, both exactly as configured.
"""

from __future__ import annotations

import functools
import platform
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from intentmeta import ops
from intentmeta.research.data import train_and_evaluation
from intentmeta.research.episodes import EpisodeSampler, meta_split, sample_k_shot
from intentmeta.research.statistics import summary

if TYPE_CHECKING:
    from intentmeta.heads import HeadConfig

#: ``(support (n_s, dim), support labels (n_s,) in 0..C-1, queries (n_q, dim), C) -> (n_q,)``
Method = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, int], torch.Tensor]


@dataclass
class EvalConfig:
    """What an evaluation run measures.

    Attributes:
        shots: Examples per intent in the full-class protocol.
        seeds: Support sets drawn per K (seeds ``0..seeds-1``).
        episodes: Episodes per episodic setting.
        n_way: Classes per episode.
        episode_shots: Support examples per class in the episodic protocol.
        n_query: Queries per class and episode.
        methods: Methods compared (keys of :data:`METHODS`).
        split: Evaluation split (``"test"``, or ``"val"`` while choosing methods).
        validation: If set, hold out this fraction of each intent's *training* rows as the
            evaluation split (for data sets without a validation split, e.g. BANKING77).
        lr_c: Inverse regularisation of the logistic-regression baseline.
    """

    shots: list[int] = field(default_factory=lambda: [1, 5, 10, 20])  # the literature's K
    seeds: int = 5  # enough for a t-interval; each seed is one full-test pass
    episodes: int = 600  # the meta-learning literature's minimum
    n_way: int = 5  # 5-way 1-shot / 5-shot, the standard episodic settings
    episode_shots: list[int] = field(default_factory=lambda: [1, 5])
    n_query: int = 15  # standard; CLINC150 test has 30 rows per intent
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    split: str = "test"  # report test once; tune on "val" / validation
    validation: float | None = None  # no hold-out: evaluate on `split`
    lr_c: float = 10.0  # C sweep (training/choose_head_defaults.py): 10-100 agree, C=1 underfits


def macro_f1(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Macro-averaged F1 over the classes present in ``truth``, in [0, 1]."""
    from sklearn.metrics import f1_score

    return float(f1_score(truth, predicted, labels=np.unique(truth), average="macro"))


# ---------------------------------------------------------------------------------- methods
def nearest_neighbour(support, labels, queries, n_classes) -> torch.Tensor:
    """1-NN: the label of the most cosine-similar support example."""
    similarity = ops.cosine_similarity_matrix(queries, support)  # (n_query, n_support)
    return labels[similarity.argmax(dim=1)]


def logistic_regression(support, labels, queries, n_classes, c: float = 10.0) -> torch.Tensor:
    """Multinomial logistic regression (scikit-learn, L-BFGS) fitted on the support set."""
    from sklearn.linear_model import LogisticRegression

    # On an episode-sized problem, waking BLAS threads costs ten times the fit itself.
    with (
        _blas_threads().limit(limits=1 if len(support) < 2000 else None),
        warnings.catch_warnings(),
    ):
        # 1-shot support has as many classes as rows, which sklearn mistakes for regression.
        warnings.filterwarnings("ignore", message="The number of unique classes")
        model = LogisticRegression(C=c, max_iter=2000).fit(support.numpy(), labels.numpy())
        return torch.from_numpy(model.predict(queries.numpy())).long()


@functools.cache
def _blas_threads():
    """threadpoolctl's controller, built once: building it scans every loaded library."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _head_method(name: str) -> Method:
    def predict(support, labels, queries, n_classes) -> torch.Tensor:
        from intentmeta.heads import HeadConfig, build_head

        head = build_head(name, HeadConfig(dim=support.shape[1])).eval()
        with torch.inference_mode():
            head.process_support_set(support, labels)
            return head.classes[head(queries).argmax(dim=1)]  # (n_query,)

    predict.__doc__ = f"The parameter-free {name} head."
    return predict


class _RowEncoder:
    """An encoder stand-in whose "texts" are row keys into precomputed embeddings."""

    name = "precomputed-embeddings"

    def __init__(self, embeddings: torch.Tensor) -> None:
        self.embeddings = embeddings  # (n_rows, dim)
        self.dim = embeddings.shape[1]

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> torch.Tensor:
        rows = torch.tensor([int(text.removeprefix("row")) for text in texts], dtype=torch.long)
        return self.embeddings[rows] if len(rows) else torch.empty(0, self.dim)


def classifier_method(head: str, head_config: HeadConfig | None = None) -> Method:
    """``IntentClassifier(head=head, head_config=head_config)`` as an evaluation method."""

    def predict(support, labels, queries, n_classes) -> torch.Tensor:
        from intentmeta.classifier import IntentClassifier

        encoder = _RowEncoder(torch.cat([support, queries]))
        names = [f"intent{c}" for c in range(n_classes)]
        clf = IntentClassifier(
            encoder=encoder, head=head, oos_threshold=None, head_config=head_config
        )
        clf.fit([f"row{i}" for i in range(len(support))], [names[int(c)] for c in labels])
        predicted = clf.predict([f"row{len(support) + j}" for j in range(len(queries))])
        column = {name: c for c, name in enumerate(names)}
        return torch.tensor([column[name] for name in predicted], dtype=torch.long)

    predict.__doc__ = (
        f"``IntentClassifier(head={head!r})`` with its default settings, no rejection, fitted "
        "through the public API on an encoder that returns the precomputed embeddings, so "
        "whatever the defaults become is what is measured."
    )
    return predict


default_classifier = classifier_method("prototypical")


METHODS: dict[str, Method] = {
    "nearest_neighbour": nearest_neighbour,
    "logistic_regression": logistic_regression,
    "prototypical": _head_method("prototypical"),
    "matching": _head_method("matching"),
    "matching_classifier": classifier_method("matching"),
    "default": default_classifier,
}


def _method(name: str, config: EvalConfig, names: IntentNames | None = None) -> Method:
    base = name.removesuffix(NAMES_SUFFIX)
    if base not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose among {sorted(METHODS)}")
    method = METHODS[base]
    if base == "logistic_regression":
        method = functools.partial(logistic_regression, c=config.lr_c)
    if name == base:
        return method
    if names is None:
        raise ValueError(f"{name!r} needs the intents' names (full_class_eval(names=...))")
    return with_names(method, names)


#: A method name ending in this sees each intent's descriptive name as one more example.
NAMES_SUFFIX = "+names"


@dataclass
class IntentNames:
    """Embeddings of the intents' descriptive names (what ``name_as_example`` adds).

    Attributes:
        vectors: ``(n_named, dim)`` name embeddings.
        classes: ``(n_named,)`` the class index of each.
    """

    vectors: torch.Tensor
    classes: torch.Tensor

    @classmethod
    def of(cls, labels: Sequence[str], encoder, cache_dir: str | None = None):
        """The descriptive names among the intents of ``labels`` (class ``c`` is the ``c``-th
        intent in sorted order, as in :func:`full_class_eval`), encoded through the cache."""
        from intentmeta.research.embedding_cache import cached_encode
        from intentmeta.validation import descriptive_intent_name

        texts = {c: descriptive_intent_name(intent) for c, intent in enumerate(sorted(set(labels)))}
        named = [c for c, text in texts.items() if text is not None]
        wanted = [texts[c] for c in named]
        vectors = cached_encode(encoder, wanted, cache_dir, False) if wanted else torch.empty(0, 0)
        return cls(vectors, torch.tensor(named, dtype=torch.long))


def with_names(method: Method, names: IntentNames) -> Method:
    """``method`` with each named intent's name appended to the support set, as
    ``IntentClassifier(name_as_example=True)`` appends it to the head's support."""

    if not len(names.classes):
        return method

    def predict(support, labels, queries, n_classes) -> torch.Tensor:
        support = torch.cat([support, names.vectors])  # (n_support + n_named, dim)
        labels = torch.cat([labels, names.classes.to(labels.dtype)])
        return method(support, labels, queries, n_classes)

    return predict


# ---------------------------------------------------------------------------------- protocols
def full_class_eval(
    support_pool: torch.Tensor,
    pool_labels: Sequence[str],
    queries: torch.Tensor,
    query_labels: Sequence[str],
    config: EvalConfig,
    progress: bool = True,
    methods: Mapping[str, Method] | None = None,
    names: IntentNames | None = None,
) -> dict[str, dict[str, dict]]:
    """Full-class K-shot accuracy and macro-F1 of every method, per K, over seeds.

    Args:
        support_pool: ``(n_train, dim)`` embeddings to draw K-shot support sets from.
        pool_labels: Intent of each training row.
        queries: ``(n_eval, dim)`` embeddings of the evaluation split.
        query_labels: Intent of each evaluation row (intents absent from training are skipped).
        config: Shots, seeds and methods.
        progress: Show a progress bar over (K, seed) pairs.
        methods: Methods by name to compare instead of ``config.methods`` (settings sweeps).
        names: The intents' name embeddings (classes numbered in sorted intent order), for
            methods named ``<method>+names``.

    Returns:
        ``{str(K): {method: {"accuracy": summary, "macro_f1": summary}}}``, each summary a dict
        of ``mean``, ``ci95`` (half-width) and per-seed ``values``, in percent.
    """
    from tqdm.auto import tqdm

    intents = sorted(set(pool_labels))
    column = {intent: c for c, intent in enumerate(intents)}
    pool_y = torch.tensor([column[label] for label in pool_labels])  # (n_train,)
    keep = [i for i, label in enumerate(query_labels) if label in column]
    queries = queries[keep]  # (n_eval, dim)
    truth = np.array([column[query_labels[i]] for i in keep])
    scores: dict[str, dict[str, dict[str, list[float]]]] = {}
    jobs = [(k, seed) for k in config.shots for seed in range(config.seeds)]
    for k, seed in tqdm(jobs, desc="full-class K-shot", disable=not progress):
        rows = torch.tensor(sample_k_shot(pool_labels, k, seed))
        chosen = methods or {name: _method(name, config, names) for name in config.methods}
        for name, method in chosen.items():
            predicted = method(support_pool[rows], pool_y[rows], queries, len(intents)).numpy()
            entry = scores.setdefault(str(k), {}).setdefault(name, {"accuracy": [], "macro_f1": []})
            entry["accuracy"].append(100 * float((predicted == truth).mean()))
            entry["macro_f1"].append(100 * macro_f1(predicted, truth))
    return {
        k: {
            name: {metric: summary(v) for metric, v in entry.items()} for name, entry in row.items()
        }
        for k, row in scores.items()
    }


def episodic_eval(
    embeddings: torch.Tensor,
    labels: Sequence[str],
    config: EvalConfig,
    k_shot: int,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, dict]:
    """Mean N-way K-shot episode accuracy of every method, on the same episodes.

    Args:
        embeddings: ``(n, dim)`` rows the episodes draw from (held-out intents only).
        labels: Intent of each row.
        config: ``n_way``, ``n_query``, ``episodes`` and methods.
        k_shot: Support examples per class.
        seed: Seed of the episode stream.
        progress: Show a progress bar over episodes.

    Returns:
        ``{method: {"accuracy": summary}}``, in percent, the CI over episodes.
    """
    from tqdm.auto import tqdm

    sampler = EpisodeSampler(
        labels, config.n_way, k_shot, config.n_query, seed=seed, n_episodes=config.episodes
    )
    accuracy: dict[str, list[float]] = {name: [] for name in _without_names(config.methods)}
    bar = tqdm(sampler, desc=f"{config.n_way}-way {k_shot}-shot", disable=not progress)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # episode-sized tensors: thread start-up would dominate
    try:
        for episode in bar:
            _score_episode(embeddings, episode, config, accuracy)
    finally:
        torch.set_num_threads(threads)
    return {name: {"accuracy": summary(values)} for name, values in accuracy.items()}


def _without_names(methods: Sequence[str]) -> list[str]:
    """Episodes draw anonymous classes: methods that read the intents' names sit them out."""
    return [name for name in methods if not name.endswith(NAMES_SUFFIX)]


def _score_episode(embeddings, episode, config: EvalConfig, accuracy: dict) -> None:
    support = embeddings[episode.support_indices]  # (n_way * k_shot, dim)
    queries = embeddings[episode.query_indices]  # (n_way * n_query, dim)
    support_y = torch.tensor(episode.support_labels)
    truth = torch.tensor(episode.query_labels)
    for name in _without_names(config.methods):
        predicted = _method(name, config)(support, support_y, queries, config.n_way)
        accuracy[name].append(100 * float((predicted == truth).float().mean()))


def evaluate(
    source: str,
    config: EvalConfig | None = None,
    encoder: object | None = None,
    cache_dir: str | None = None,
    progress: bool = True,
) -> dict:
    """Run both protocols on a data set and return every figure.

    Args:
        source: Anything :func:`~intentmeta.research.data.load_dataset` reads.
        config: What to measure; ``None`` uses the defaults.
        encoder: An encoder with ``name``, ``dim``, ``encode``; ``None`` loads the bundled one.
        cache_dir: Embedding cache directory (default ``$INTENTMETA_CACHE`` or
            ``~/.cache/intentmeta/embeddings``).
        progress: Show progress bars.

    Returns:
        A JSON-serialisable dict: data set, split, encoder, config, machine, ``full_class`` and
        ``episodic`` results.
    """
    from intentmeta.research.embedding_cache import cached_encode

    config = config or EvalConfig()
    if encoder is None:
        from intentmeta.research.benchmark_encoders import off_the_shelf_encoder

        encoder = off_the_shelf_encoder()
    train, evaluation = train_and_evaluation(source, config.split, config.validation)
    started = time.time()
    train_x = cached_encode(encoder, train.texts, cache_dir, progress)  # (n_train, dim)
    eval_x = cached_encode(encoder, evaluation.texts, cache_dir, progress)  # (n_eval, dim)
    names = IntentNames.of(train.labels, encoder, cache_dir)
    full = full_class_eval(
        train_x, train.labels, eval_x, evaluation.labels, config, progress, names=names
    )
    held_out = set(meta_split(train.intents)[2])
    rows = [i for i, label in enumerate(evaluation.labels) if label in held_out]
    episodic = {}
    if len(held_out) >= config.n_way:  # too few held-out intents (a toy set): no episodes
        episodic = {
            f"{config.n_way}-way {k}-shot": episodic_eval(
                eval_x[rows], [evaluation.labels[i] for i in rows], config, k, progress=progress
            )
            for k in config.episode_shots
        }
    return {
        "dataset": train.name or str(source),
        "source": str(source),
        "split": evaluation.split,
        "n_intents": len(train.intents),
        "n_eval": len(evaluation),
        "episodic_intents": sorted(held_out),
        "encoder": getattr(encoder, "name", type(encoder).__name__),
        "config": asdict(config),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "seconds": round(time.time() - started, 1),
        "full_class": full,
        "episodic": episodic,
    }
