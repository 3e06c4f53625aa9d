"""Encoder meta-training on a tiny random BERT: loss falls, held-out intents gain, files load."""

from __future__ import annotations

import json
import random

import pytest
import torch

from intentmeta.research.encoder_training import (
    EncoderTrainingConfig,
    HeldOutProbe,
    Pool,
    episode_loss,
    train_encoder,
    trainable_parameters,
)
from intentmeta.research.episodes import EpisodeSampler

NOISE = [f"noise{i}" for i in range(10)]  # few, frequent: suppressing them is learnable


def synthetic_intents(first: int, count: int, per_intent: int, seed: int):
    """Each intent owns 3 key words; a message is 2 of them among 6 shared noise words."""
    rng = random.Random(seed)
    texts, labels = [], []
    for intent in range(first, first + count):
        keys = [f"key{intent}x{j}" for j in range(3)]
        for _ in range(per_intent):
            words = rng.sample(keys, 2) + rng.choices(NOISE, k=6)
            rng.shuffle(words)
            texts.append(" ".join(words))
            labels.append(f"intent{intent}")
    return texts, labels


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    """A random 2-layer BERT and a word-level tokenizer saved as a Hugging Face directory."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    directory = tmp_path_factory.mktemp("tiny-bert")
    words = NOISE + [f"key{i}x{j}" for i in range(80) for j in range(3)]
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer = BertTokenizerFast(vocab={word: i for i, word in enumerate(specials + words)})
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(specials) + len(words),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=32,
    )
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def fixed_episode_loss(model, tokenizer, pool: Pool) -> float:
    model.eval()
    with torch.no_grad():
        losses = [
            episode_loss(model, tokenizer, pool, episode, 0.1, 16)[0].item()
            for episode in EpisodeSampler(pool.labels, 8, 3, 3, seed=123, n_episodes=5)
        ]
    return sum(losses) / len(losses)


def test_meta_training_lowers_episode_loss_and_helps_held_out_intents(tiny_base, tmp_path):
    torch.set_num_threads(1)  # tiny tensors: more threads only add start-up cost
    from intentmeta.research.encoder_export import load_base

    model, tokenizer = load_base(tiny_base)
    train_texts, train_labels = synthetic_intents(0, 60, 10, seed=1)
    held_texts, held_labels = synthetic_intents(60, 12, 10, seed=2)  # never trained on
    pool = Pool("synthetic", train_texts, train_labels)
    probe = HeldOutProbe(held_texts, held_labels, shots=3, queries=6, seeds=2)
    config = EncoderTrainingConfig(
        n_way=12,
        k_shot=3,
        n_query=3,
        episodes=120,
        lr=3e-3,
        temperature=0.1,
        max_length=16,
        top_layers=2,
        train_embeddings=False,
        validate_every=20,
        patience=0,
        progress=False,
    )
    loss_before = fixed_episode_loss(model, tokenizer, pool)
    log = tmp_path / "log.jsonl"
    history = train_encoder(model, tokenizer, [pool], probe, config, log)
    loss_after = fixed_episode_loss(model, tokenizer, pool)

    assert loss_after < 0.7 * loss_before
    assert history.probe_episodes[0] == 0
    assert history.best_episode > 0
    assert history.best_probe_accuracy > history.probe_accuracy[0] + 5
    # the kept weights are the best probed ones
    assert probe.accuracy(model, tokenizer, 16) == pytest.approx(history.best_probe_accuracy)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert sum("loss" in row for row in rows) == len(history.episodes)
    from intentmeta.research.encoder_export import read_log

    replayed = read_log(log)
    assert replayed.probe_accuracy == history.probe_accuracy
    assert (replayed.best_episode, replayed.interpolation) == (
        history.best_episode,
        history.interpolation,
    )


def test_only_the_top_layers_train_when_asked(tiny_base):
    from intentmeta.research.encoder_export import load_base

    model, _ = load_base(tiny_base)
    trainable = trainable_parameters(model, top_layers=1, train_embeddings=False)
    assert trainable and all(name.startswith("encoder.layer.1.") for name in trainable)
    assert not any(p.requires_grad for n, p in model.named_parameters() if n not in trainable)
    with pytest.raises(ValueError, match="top_layers"):
        trainable_parameters(model, top_layers=3, train_embeddings=False)


def test_a_saved_encoder_directory_serves_a_registry_that_round_trips(tiny_base, tmp_path):
    from intentmeta import IntentClassifier
    from intentmeta.research.encoder_export import load_base, save_encoder, sha256_file

    model, _ = load_base(tiny_base)
    out = save_encoder(model, tiny_base, tmp_path / "encoder", {"recipe": "test"}, half=True)
    metadata = json.loads((out / "training.json").read_text())
    assert metadata["weights_sha256"] == sha256_file(out / "model.safetensors")

    clf = IntentClassifier(encoder=str(out), oos_threshold=None)
    texts, labels = synthetic_intents(0, 3, 4, seed=3)
    clf.fit(texts, labels)
    assert clf.encoder.model.dtype == torch.float32  # float16 on disk, float32 in memory
    before = clf.classify(texts[0])
    clf.save(tmp_path / "registry")
    loaded = IntentClassifier.load(tmp_path / "registry", encoder=str(out))
    assert loaded.encoder.name == str(out)
    after = loaded.classify(texts[0])
    assert after.intent == before.intent
    assert after.confidence == pytest.approx(before.confidence, abs=1e-5)


class KeywordEncoder:
    """A fake encoder: one dimension per key word, so messages of one intent share a direction."""

    dim = 32

    def __init__(self, name: str) -> None:
        self.name = name

    def encode(self, texts, *, progress: bool = False) -> torch.Tensor:
        vectors = torch.full((len(texts), self.dim), 0.01)
        for row, text in enumerate(texts):
            for word in text.split():
                if word.startswith("key"):
                    vectors[row, int(word[3:].split("x")[0]) % self.dim] += 1.0
        return torch.nn.functional.normalize(vectors, dim=-1)


def test_transfer_evaluation_pairs_seeds_and_can_add_intent_names(tmp_path):
    from intentmeta.research.data import IntentDataset
    from intentmeta.research.encoder_evaluation import (
        TransferConfig,
        evaluate_encoder,
        paired_differences,
        table,
    )

    texts, labels = synthetic_intents(0, 6, 8, seed=4)
    train = IntentDataset(texts[::2], labels[::2])
    queries = IntentDataset(texts[1::2], labels[1::2])
    config = TransferConfig(shots=[2], seeds=3, methods=["prototypical", "prototypical+names"])
    results = {
        "toy": {
            name: evaluate_encoder(KeywordEncoder(name), train, queries, config, str(tmp_path))
            for name in ("off-the-shelf", "meta-learned")
        }
    }
    accuracy = results["toy"]["meta-learned"]["2"]["prototypical"]["accuracy"]
    assert len(accuracy["values"]) == 3 and accuracy["mean"] == pytest.approx(100.0)
    difference = paired_differences(results, [2])["toy"]["2"]["prototypical"]
    assert difference["values"] == [0.0, 0.0, 0.0]
    assert "difference (paired)" in table(results, [2])


def test_the_command_line_trains_an_encoder_directory_the_classifier_loads(tiny_base, tmp_path):
    import csv

    from intentmeta import IntentClassifier
    from intentmeta.cli import main

    texts, labels = synthetic_intents(0, 20, 10, seed=5)
    data = tmp_path / "toy"
    data.mkdir()
    with open(data / "train.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "category"])
        writer.writerows(zip(texts, labels, strict=True))
    out = tmp_path / "encoder"
    argv = ["train", "--encoder", "--data", str(data), "--out", str(out), "--base", str(tiny_base)]
    argv += ["--episodes", "4", "--n-way", "4", "--validate-every", "2", "--quiet", "--half"]
    assert main(argv) == 0
    for name in ("model.safetensors", "training.json", "training_log.jsonl", "learning_curve.png"):
        assert (out / name).is_file()
    recipe = json.loads((out / "training.json").read_text())
    assert recipe["heldout_intents"] == 4 and recipe["pools"][0]["intents"] == 16
    clf = IntentClassifier(encoder=str(out), oos_threshold=None).fit(texts[:40], labels[:40])
    assert clf.predict(texts[:2]) == labels[:2]
    two_sets = ["train", "--data", str(data), "--data", str(data), "--out", str(tmp_path / "h")]
    assert main(two_sets) == 2  # a head trains on one data set
