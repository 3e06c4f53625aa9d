"""Files of an encoder training run: the base model in, the model directory, log and plot out.

The directory holds ``config.json``, ``model.safetensors``, the base model's tokenizer and
sentence-transformers files, and ``training.json``; ``IntentClassifier(encoder=DIR)``,
``AutoModel.from_pretrained(DIR)`` and ``SentenceTransformer(DIR)`` all load it offline.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

import torch

from intentmeta.research.encoder_training import TrainingHistory
from intentmeta.research.meta_training_plots import save_figure

#: Files copied unchanged from the base model: the tokenizer and sentence-transformers' pooling.
COPIED_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "special_tokens_map.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
)


def load_base(model_dir: str | Path):
    """The base model in float32 and its tokenizer, from a local directory (offline).

    Returns:
        ``(model, tokenizer)``.
    """
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True, dtype=torch.float32)
    return model, tokenizer


def save_encoder(
    model, base_dir: str | Path, out_dir: str | Path, metadata: dict, half: bool = False
) -> Path:
    """Write ``model`` as a Hugging Face model directory beside the base model's tokenizer.

    Args:
        model: The trained encoder.
        base_dir: The model it was trained from (its tokenizer files are copied).
        out_dir: Created if missing; its weights and copied files are replaced.
        metadata: Written as ``training.json`` (recipe, data, history).
        half: Store float16 weights (half the size; loaded back as float32 by the encoder).

    Returns:
        ``out_dir``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().contiguous() for name, tensor in model.state_dict().items()}
    if half:
        state = {name: tensor.half() for name, tensor in state.items()}
    from safetensors.torch import save_file

    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    config = model.config.to_dict()
    config["dtype"] = "float16" if half else "float32"
    config.pop("torch_dtype", None)
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    base = Path(base_dir)
    for name in COPIED_FILES:
        if (base / name).is_file():
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(base / name, out / name)
    metadata = {**metadata, "weights_sha256": sha256_file(out / "model.safetensors")}
    (out / "training.json").write_text(json.dumps(metadata, indent=2) + "\n")
    return out


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def plot_learning_curve(history, path: str | Path) -> Path:
    """Training loss and accuracy per episode, and the held-out probe, as a PNG.

    Args:
        history: A :class:`~intentmeta.encoder_training.TrainingHistory`.
        path: PNG file to write.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from intentmeta.research.meta_training_plots import smooth

    window = max(1, len(history.episodes) // 20)
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 4))
    loss_axis.plot(history.episodes, smooth(history.loss, window))
    loss_axis.set(xlabel="episode", ylabel="loss", title="training episode loss")
    accuracy_axis.plot(
        history.episodes, smooth(history.accuracy, window), label="training episodes"
    )
    accuracy_axis.plot(
        history.probe_episodes, history.probe_accuracy, "o-", label="held-out intents (probe)"
    )
    accuracy_axis.axvline(history.best_episode, color="grey", linestyle=":", label="kept")
    accuracy_axis.set(xlabel="episode", ylabel="accuracy (%)", title="accuracy")
    accuracy_axis.legend()
    return save_figure(figure, path)


def read_log(path: str | Path) -> TrainingHistory:
    """Rebuild a run's history from its JSONL log (e.g. to redraw its learning curve)."""
    history = TrainingHistory()
    best_interpolated = -math.inf
    for line in Path(path).read_text().splitlines():
        row = json.loads(line)
        if "loss" in row:
            history.episodes.append(row["episode"])
            history.loss.append(row["loss"])
            history.accuracy.append(100 * row["acc"])
        elif "interpolation" in row:
            if row["probe_accuracy"] > best_interpolated:  # the first best, as in training
                best_interpolated = row["probe_accuracy"]
                history.interpolation = row["interpolation"]
                history.best_probe_accuracy = best_interpolated
        else:
            history.probe_episodes.append(row["episode"])
            history.probe_accuracy.append(row["probe_accuracy"])
    if history.probe_accuracy:
        best = max(range(len(history.probe_accuracy)), key=history.probe_accuracy.__getitem__)
        history.best_episode = history.probe_episodes[best]
    return history
