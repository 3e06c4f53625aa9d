from __future__ import annotations

import json

import pytest
import torch

from intentmeta import IntentClassifier
from intentmeta.heads.weights import load_head_weights, save_head_weights
from intentmeta.research.episodes import EpisodeSampler
from intentmeta.research.meta_training import TrainConfig, episode_loss, train_head, write_run

DIM = 32
SIGNAL_DIMS = 4  # classes differ only here; the other dimensions are loud, useless noise


def buried_clusters(n_classes: int, per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Classes separated along a few dimensions, hidden under large noise on all the others."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.zeros(n_classes, DIM)
    centres[:, :SIGNAL_DIMS] = torch.randn(n_classes, SIGNAL_DIMS, generator=generator)
    labels = torch.arange(n_classes).repeat_interleave(per_class)  # (n,)
    noise = torch.randn(labels.numel(), DIM, generator=generator)  # (n, dim)
    noise[:, :SIGNAL_DIMS] *= 0.15
    noise[:, SIGNAL_DIMS:] *= 1.5
    return centres[labels] + noise, labels


def held_out_accuracy(head, embeddings, labels) -> float:
    episodes = EpisodeSampler(labels.tolist(), 5, 3, 5, seed=99, n_episodes=30)
    head.eval()
    with torch.no_grad():
        return sum(episode_loss(head, embeddings, e)[1] for e in episodes) / len(episodes)


def quick_config(**changes) -> TrainConfig:
    settings = dict(
        n_way=5, k_shot=3, n_query=5, episodes=100, lr=3e-2, identity_weight=0.0,
        validate_every=25, validation_episodes=10, validation_way=5, progress=False,
    )  # fmt: skip
    return TrainConfig(**{**settings, **changes})


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny matrices: a second thread only adds contention on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def synthetic_task():
    return buried_clusters(40, 12, seed=0), buried_clusters(15, 12, seed=1)


@pytest.fixture(scope="module")
def trained(synthetic_task):
    train, validation = synthetic_task
    return train_head(*train, quick_config(), validation=validation)


def test_meta_training_improves_accuracy_on_held_out_classes(synthetic_task, trained):
    _, validation = synthetic_task
    test = buried_clusters(15, 12, seed=2)
    untrained, _ = train_head(*validation, quick_config(episodes=0))
    head, _ = trained
    assert held_out_accuracy(head, *test) > held_out_accuracy(untrained, *test) + 0.1


def test_an_untrained_run_keeps_the_identity_projection(synthetic_task):
    train, _ = synthetic_task
    head, history = train_head(*train, quick_config(episodes=0))
    assert torch.equal(head.projection.weight, torch.eye(DIM))
    assert history.steps == []


def test_history_records_every_episode_and_each_validation(trained):
    _, history = trained
    assert len(history.loss) == len(history.accuracy) == len(history.steps)
    assert history.validation_steps[0] == 0  # the untrained head is the first candidate
    assert history.best_step in history.validation_steps
    assert history.best_validation_accuracy == max(history.validation_accuracy)


def test_early_stopping_keeps_the_untrained_head_when_training_only_hurts(synthetic_task):
    train, validation = synthetic_task
    order = torch.randperm(train[1].numel(), generator=torch.Generator().manual_seed(0))
    shuffled = train[1][order]  # labels that carry no information
    config = quick_config(episodes=100, patience=2, lr=0.1)
    head, history = train_head(train[0], shuffled, config, validation=validation)
    assert history.best_step == 0  # labels are noise: nothing learned beats the identity
    assert history.stopped_early
    assert torch.equal(head.projection.weight, torch.eye(DIM))


def test_identity_penalty_keeps_the_projection_closer_to_the_identity(synthetic_task):
    train, _ = synthetic_task
    free, _ = train_head(*train, quick_config(episodes=40))
    held, _ = train_head(*train, quick_config(episodes=40, identity_weight=1.0))
    eye = torch.eye(DIM)
    assert (held.projection.weight - eye).norm() < (free.projection.weight - eye).norm()


def test_diagonal_training_changes_only_the_diagonal(synthetic_task):
    train, _ = synthetic_task
    head, _ = train_head(*train, quick_config(episodes=20, diagonal=True))
    weight = head.projection.weight.detach()
    assert torch.equal(weight - torch.diag(weight.diagonal()), torch.zeros(DIM, DIM))
    assert not torch.equal(weight, torch.eye(DIM))


@pytest.mark.parametrize("kind", ["prototypical", "matching"])
def test_saved_weights_load_back_to_identical_logits(synthetic_task, tmp_path, kind):
    (x, y), _ = synthetic_task
    head, _ = train_head(x, y, quick_config(head=kind, episodes=10))
    save_head_weights(head, tmp_path)
    loaded = load_head_weights(tmp_path, kind=kind, dim=DIM)
    for model in (head, loaded):
        model.process_support_set(x[:60], y[:60])
    with torch.no_grad():
        assert torch.equal(head(x[60:90]), loaded(x[60:90]))


def test_classifier_uses_a_training_run_directory(fake_encoder, toy_intents, tmp_path):
    corpus = [text for examples in toy_intents.values() for text in examples]
    embeddings = fake_encoder.encode(corpus)  # (9, 32)
    labels = torch.arange(3).repeat_interleave(3)
    config = TrainConfig(n_way=3, k_shot=1, n_query=2, episodes=5, lr=0.05, progress=False)
    head, history = train_head(embeddings, labels, config, validation=(embeddings, labels))
    write_run(head, history, config, tmp_path, encoder=fake_encoder.name)
    assert {"head.safetensors", "head.json", "training_log.json", "learning_curves.png"} <= {
        path.name for path in tmp_path.iterdir()
    }
    assert json.loads((tmp_path / "head.json").read_text())["training"]["episodes"] == 5

    clf = IntentClassifier(
        encoder=fake_encoder, head_weights=tmp_path, oos_threshold=None, name_as_example=False
    )
    for name, examples in toy_intents.items():
        clf.add_intent(name, examples)
    queries = fake_encoder.encode(["where is my parcel now", "hello hello"])
    head.process_support_set(embeddings, labels)
    with torch.no_grad():
        assert torch.equal(clf.head(queries), head(queries))


def test_train_command_writes_a_run_the_classifier_loads(fake_encoder, tmp_path, monkeypatch):
    import intentmeta.encoder
    from intentmeta.cli import main

    monkeypatch.setattr(intentmeta.encoder, "shared_encoder", lambda *args: fake_encoder)
    rows = ["text,label"] + [
        f"topic{c} word{c}x{i} filler{i},intent{c}" for c in range(8) for i in range(6)
    ]
    (tmp_path / "train.csv").write_text("\n".join(rows))
    out = tmp_path / "run"
    status = main(
        ["train", "--data", str(tmp_path / "train.csv"), "--out", str(out), "--episodes", "6",
         "--n-way", "3", "--k-shot", "2", "--queries", "2", "--validate-every", "2",
         "--validation-fraction", "0.5", "--cache-dir", str(tmp_path / "cache"), "--quiet"]
    )  # fmt: skip
    assert status == 0
    meta = json.loads((out / "head.json").read_text())
    assert meta["training_intents"] == meta["validation_intents"] == 4
    clf = IntentClassifier(encoder=fake_encoder, head_weights=out, oos_threshold=None)
    clf.add_intent("a", ["topic1 word"])
    clf.add_intent("b", ["topic2 word"])
    assert clf.predict(["topic2"]) == ["b"]


def test_embedding_noise_changes_training_but_not_the_data(synthetic_task):
    train, _ = synthetic_task
    before = train[0].clone()
    clean, _ = train_head(*train, quick_config(episodes=10))
    noisy, _ = train_head(*train, quick_config(episodes=10, embedding_noise=1.0))
    assert not torch.equal(clean.projection.weight, noisy.projection.weight)
    assert torch.equal(train[0], before)


def test_without_keep_best_the_last_weights_are_returned(synthetic_task):
    train, validation = synthetic_task
    order = torch.randperm(train[1].numel(), generator=torch.Generator().manual_seed(0))
    config = quick_config(episodes=20, lr=0.1, keep_best=False)
    head, _ = train_head(train[0], train[1][order], config, validation=validation)
    assert not torch.equal(head.projection.weight, torch.eye(DIM))


def test_transfer_comparison_reports_every_method_for_every_k(synthetic_task, trained):
    from intentmeta.heads import HeadConfig, build_head
    from intentmeta.research.meta_training_eval import compare_heads, format_comparison

    x, y = buried_clusters(6, 12, seed=3)
    intents = [f"intent{int(c)}" for c in y]
    untrained = build_head("prototypical", HeadConfig(dim=DIM))
    heads = {"p meta-trained": trained[0], "p parameter-free": untrained}
    results = compare_heads(heads, (x[::2], intents[::2]), (x[1::2], intents[1::2]), (1, 3), 2)
    assert list(results) == ["1", "3"]
    assert set(results["3"]) == {"p meta-trained", "p parameter-free", "logistic_regression"}
    assert all(0 <= v <= 100 for v in results["3"]["p meta-trained"]["values"])
    table = format_comparison(results, "toy").splitlines()
    assert table[0] == "| toy | 1-shot | 3-shot |"
    assert len(table) == 6
    assert table[-1].startswith("| difference (paired) | ")


def test_validation_and_holdout_domains_are_disjoint_from_training(tmp_path):
    from intentmeta.research.data import IntentDataset
    from intentmeta.research.meta_training_data import split_intents

    domains = {"shop": ["buy", "refund"], "travel": ["book"], "home": ["lights"]}
    (tmp_path / "domains.json").write_text(json.dumps(domains))
    data = IntentDataset(["m1", "m2", "m3", "m4"], ["buy", "refund", "book", "lights"])
    train, validation = split_intents(data, str(tmp_path), ["travel"], ["home"])
    assert (train, validation) == (["buy", "refund"], ["book"])
    with pytest.raises(ValueError, match="unknown domains"):
        split_intents(data, str(tmp_path), ["sports"])
