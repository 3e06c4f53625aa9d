"""The ONNX Runtime int8 encoder backend: speed per message and BANKING77 10-shot accuracy."""

from __future__ import annotations

import statistics

from intentmeta.encoder import SentenceEncoder
from intentmeta.research.evaluate import EvalConfig, evaluate


def ten_shot_accuracy(
    encoder: SentenceEncoder,
    data: str,
    seeds: int,
    validation: float | None = None,
    split: str = "test",
) -> list[float]:
    """The default classifier's full-class 10-shot accuracy (%) per seed, as ``make eval``.

    ``validation`` evaluates on that fraction of the training rows instead of ``split`` (for
    choosing settings on BANKING77, which has no validation split). Embeddings are cached on
    disk per model, backend and ONNX export.
    """
    config = EvalConfig(
        shots=[10],
        seeds=seeds,
        methods=["default"],
        episode_shots=[],
        split=split,
        validation=validation,
    )
    results = evaluate(data, config, encoder, progress=False)
    return results["full_class"]["10"]["default"]["accuracy"]["values"]


def compare(fp32: SentenceEncoder, onnx: SentenceEncoder, data: str, seeds: int) -> dict:
    """Accuracy of both backends on the same support sets, and the points lost (mean)."""
    accuracy_fp32 = ten_shot_accuracy(fp32, data, seeds)
    accuracy_onnx = ten_shot_accuracy(onnx, data, seeds)
    return {
        "fp32": accuracy_fp32,
        "onnx": accuracy_onnx,
        "loss_points": statistics.mean(accuracy_fp32) - statistics.mean(accuracy_onnx),
    }
