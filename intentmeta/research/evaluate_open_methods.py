"""What the open-intent benchmark compares, and how it scores them (scikit-learn metrics).

Every method answers each message with an intent or "out of scope" (``None``), a confidence
that the answer is right, and an out-of-scope score (higher: more likely out of scope, for the
AUROC). Baselines score messages without rejecting; their single threshold is chosen on
validation episodes by :func:`best_threshold`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from intentmeta.research.reliability import expected_calibration_error

OPEN_LABEL = "<open>"  # the open class in metrics (no intent name can contain '<')


@dataclass
class Answers:
    """One method's answers to an episode's messages."""

    predicted: list[str | None]  # intent, or None for out of scope
    confidence: torch.Tensor  # (n,) probability the answer is right; NaN if the method has none
    oos_score: torch.Tensor  # (n,) higher means more likely out of scope


@dataclass
class Scored:
    """A baseline's answers before rejection: best intent and an in-scope score per message."""

    intent: list[str]
    score: torch.Tensor  # (n,) higher means more likely in scope
    probability: bool  # whether ``score`` is a probability (then it gives a confidence)

    def reject_below(self, threshold: float) -> Answers:
        """Answer "out of scope" where the score is below ``threshold``."""
        rejected = self.score < threshold
        predicted = [None if r else i for i, r in zip(self.intent, rejected.tolist(), strict=True)]
        confidence = (
            torch.where(rejected, 1 - self.score, self.score)
            if self.probability
            else torch.full_like(self.score, math.nan)
        )
        return Answers(predicted, confidence, -self.score)


def open_metrics(answers: Answers, truth: Sequence[str | None]) -> dict[str, float]:
    """Accuracy and macro-F1 over known + open (open one class), OOS recall / precision, MCC of
    the in-scope / out-of-scope decision, AUROC of the out-of-scope score, ECE; rates in [0, 1].
    """
    from sklearn.metrics import (
        accuracy_score,
        f1_score,
        matthews_corrcoef,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    y_true = [OPEN_LABEL if t is None else t for t in truth]
    y_pred = [OPEN_LABEL if p is None else p for p in answers.predicted]
    is_oos = np.array([t is None for t in truth])
    rejected = np.array([p is None for p in answers.predicted])
    correct = torch.tensor([p == t for p, t in zip(y_pred, y_true, strict=True)])
    metrics = {
        "accuracy": accuracy_score(y_true, y_pred),
        "macro_f1": f1_score(y_true, y_pred, labels=sorted(set(y_true)), average="macro"),
        "in_scope_accuracy": float(correct[torch.from_numpy(~is_oos)].float().mean()),
        "oos_recall": recall_score(is_oos, rejected, zero_division=0.0),
        "oos_precision": precision_score(is_oos, rejected, zero_division=0.0),
        "mcc": matthews_corrcoef(is_oos, rejected),
        "auroc": roc_auc_score(is_oos, answers.oos_score.double().numpy()),
        "ece": math.nan,
    }
    if not answers.confidence.isnan().any():
        metrics["ece"] = expected_calibration_error(answers.confidence, correct)
    return {name: float(value) for name, value in metrics.items()}


def fast_macro_f1(predicted: np.ndarray, truth: np.ndarray, n_labels: int) -> float:
    """Macro-F1 over the labels present in ``truth`` (integer codes), as scikit-learn's.

    >>> fast_macro_f1(np.array([0, 1, 1]), np.array([0, 1, 0]), 2)
    0.6666666666666666
    """
    truth_counts = np.bincount(truth, minlength=n_labels)
    hits = np.bincount(truth[predicted == truth], minlength=n_labels)
    total = truth_counts + np.bincount(predicted, minlength=n_labels)
    return float((2 * hits / np.maximum(total, 1))[truth_counts > 0].mean())


def best_threshold(scored: Sequence[Scored], truths: Sequence[Sequence[str | None]]) -> float:
    """The single threshold with the best mean macro-F1 over validation episodes.

    Candidates are 200 quantiles of all the scores (and minus infinity: reject nothing).
    """
    scores = torch.cat([s.score for s in scored]).double()
    candidates = [-math.inf, *torch.quantile(scores, torch.linspace(0, 1, 200).double()).tolist()]
    coded = []
    for s, truth in zip(scored, truths, strict=True):
        codes = {name: i + 1 for i, name in enumerate(sorted({*s.intent, *filter(None, truth)}))}
        coded.append(
            (
                np.array([codes.get(t, 0) for t in truth]),  # 0 is the open class
                np.array([codes[i] for i in s.intent]),
                s.score.double().numpy(),
                len(codes) + 1,
            )
        )

    def mean_f1(threshold: float) -> float:
        return float(
            np.mean(
                [
                    fast_macro_f1(np.where(score < threshold, 0, predicted), truth, n)
                    for truth, predicted, score, n in coded
                ]
            )
        )

    return max(candidates, key=mean_f1)


# ---------------------------------------------------------------------------------- methods
def intent_columns(support_intents: Sequence[str]) -> tuple[list[str], torch.Tensor]:
    """The intents in order of first appearance, and each example's ``(n_support,)`` column.

    >>> intent_columns(["b", "a", "b"])
    (['b', 'a'], tensor([0, 1, 0]))
    """
    names = list(dict.fromkeys(support_intents))
    index = {name: c for c, name in enumerate(names)}
    return names, torch.tensor([index[name] for name in support_intents])


def score_baselines(
    support: torch.Tensor,
    support_intents: Sequence[str],
    queries: torch.Tensor,
    head: str = "prototypical",
) -> dict[str, Scored]:
    """The three baselines' scores on one episode.

    Args:
        support: ``(n_support, dim)`` embeddings of the known intents' examples.
        support_intents: Their intents.
        queries: ``(n_query, dim)`` embeddings of the messages.
        head: The few-shot head whose softmax ``msp`` reads (default settings).

    Returns:
        ``{"msp", "cosine", "lr"}`` -> scores (softmax probability, prototype cosine of the
        head's winner, logistic-regression probability).
    """
    from sklearn.linear_model import LogisticRegression

    from intentmeta.config import default_head_config
    from intentmeta.heads import HeadConfig, build_head

    names, labels = intent_columns(support_intents)  # labels: (n_support,)
    config = HeadConfig(**{**vars(default_head_config(head)), "dim": support.shape[1]})
    model = build_head(head, config).eval()
    with torch.inference_mode():
        model.process_support_set(support, labels)
        probabilities = model(queries).softmax(dim=1)  # (n_query, n_intents), columns = classes
        order = model.classes.tolist()
        msp, best = probabilities.max(dim=1)  # (n_query,)
        winner = torch.tensor(order)[best]  # (n_query,) intent index
        sums = torch.zeros(len(names), support.shape[1]).index_add_(0, labels, support)
        prototypes = F.normalize(sums, dim=1)  # (n_intents, dim)
        cosine = (F.normalize(queries, dim=1) * prototypes[winner]).sum(dim=1)  # (n_query,)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The number of unique classes")
        lr = LogisticRegression(C=10.0, max_iter=2000).fit(support.numpy(), labels.numpy())
        lr_probabilities = torch.from_numpy(lr.predict_proba(queries.numpy())).float()
    lr_max, lr_best = lr_probabilities.max(dim=1)
    intent = [names[i] for i in winner.tolist()]
    return {
        "msp": Scored(intent, msp, probability=True),
        "cosine": Scored(intent, cosine, probability=False),
        "lr": Scored([names[int(lr.classes_[i])] for i in lr_best.tolist()], lr_max, True),
    }


def classifier_answers(
    encoder,
    support_texts: Sequence[str],
    support_intents: Sequence[str],
    queries: Sequence[str],
    **settings: object,
) -> Answers:
    """``IntentClassifier(**settings)`` as shipped, fitted and asked through its public API.

    Research settings, taken out of ``settings``: ``rule`` (a rejection rule to use instead of
    the encoder's), ``adjustment`` (shift the out-of-scope log-odds) and ``traffic``
    (``(in_scope, out_of_scope)`` labelled messages for ``calibrate``).
    """
    from intentmeta.classifier import IntentClassifier
    from intentmeta.prediction import OUT_OF_SCOPE

    # Data sets' names need not be valid intent names ("reverted_card_payment?"): number them.
    names = list(dict.fromkeys(support_intents))
    safe = {name: f"intent_{i}" for i, name in enumerate(names)}
    original = {v: k for k, v in safe.items()}
    adjustment = settings.pop("adjustment", None)
    rule = settings.pop("rule", None)
    traffic = settings.pop("traffic", None)
    clf = IntentClassifier(encoder=encoder, **settings)
    if rule is not None:  # a rule refitted for this encoder (training/fit_rejection_rule.py)
        clf.oos.rule = rule
    clf.fit(list(support_texts), [safe[name] for name in support_intents])
    if adjustment is not None:  # research only: shift the out-of-scope log-odds
        clf.oos.adjustment = adjustment
    if traffic is not None:  # (in-scope, out-of-scope) messages of the team's labelled traffic
        clf.calibrate(in_scope=list(traffic[0]), out_of_scope=list(traffic[1]))
    predictions = clf.classify_batch(list(queries))
    confidence = torch.tensor([p.confidence for p in predictions])
    oos = torch.tensor(
        [
            p.scores[OUT_OF_SCOPE]
            if OUT_OF_SCOPE in p.scores
            else (p.confidence if p.is_out_of_scope else 1 - p.confidence)
            for p in predictions
        ]
    )
    return Answers([original.get(p.intent) for p in predictions], confidence, oos)


Method = Callable[..., Answers]
