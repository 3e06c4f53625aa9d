from __future__ import annotations

import pytest
import torch

from intentmeta.heads import HeadConfig, MatchingHead, PrototypicalHead, build_head

AXES = torch.eye(3)  # three orthogonal directions: class 10, 20 and 30 in the tests below


def three_class_support() -> tuple[torch.Tensor, torch.Tensor]:
    support = torch.stack([AXES[0], AXES[0] * 0.9 + AXES[1] * 0.1, AXES[1], AXES[2]])
    return support, torch.tensor([10, 10, 20, 30])


@pytest.mark.parametrize("head_class", [PrototypicalHead, MatchingHead])
def test_head_returns_one_logit_column_per_class(head_class):
    head = head_class(HeadConfig(dim=3))
    head.process_support_set(*three_class_support())
    logits = head(torch.randn(5, 3))
    assert logits.shape == (5, 3)
    assert head.classes.tolist() == [10, 20, 30]


@pytest.mark.parametrize("head_class", [PrototypicalHead, MatchingHead])
def test_head_picks_the_class_a_query_points_at(head_class):
    head = head_class(HeadConfig(dim=3))
    head.process_support_set(*three_class_support())
    queries = torch.tensor([[1.0, 0.05, 0.0], [0.0, 1.0, 0.1], [0.1, 0.0, 1.0]])
    assert head(queries).argmax(dim=1).tolist() == [0, 1, 2]


def test_prototypical_head_scores_cosine_to_the_class_mean():
    head = PrototypicalHead(HeadConfig(dim=3, temperature=1.0))
    head.process_support_set(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), torch.tensor([0, 0]))
    logits = head(torch.tensor([[1.0, 1.0, 0.0]]))
    assert logits.item() == pytest.approx(1.0)  # the query points exactly at the mean


def test_prototypical_head_euclidean_logits_are_negative_squared_distances():
    head = PrototypicalHead(HeadConfig(dim=2, metric="euclidean", temperature=2.0))
    head.process_support_set(torch.tensor([[0.0, 0.0], [2.0, 0.0]]), torch.tensor([0, 1]))
    logits = head(torch.tensor([[0.0, 1.0]]))
    assert logits[0].tolist() == pytest.approx([-0.5, -2.5])  # -(1, 5) / 2


def test_matching_head_probabilities_are_the_attention_mass_of_each_class():
    head = MatchingHead(HeadConfig(dim=2, temperature=1.0))
    support = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    head.process_support_set(support, torch.tensor([0, 1, 1]))
    query = torch.tensor([[0.8, 0.6]])
    attention = (query @ support.T).softmax(dim=1)[0]
    expected = torch.stack([attention[0], attention[1] + attention[2]])
    assert head(query).softmax(dim=1)[0].tolist() == pytest.approx(expected.tolist(), abs=1e-6)


@pytest.mark.parametrize("name", ["prototypical", "matching"])
def test_adding_classes_one_by_one_matches_the_whole_support_set(name):
    support, labels = torch.randn(12, 8), torch.tensor([0, 1, 2] * 4)
    whole = build_head(name, HeadConfig(dim=8))
    whole.process_support_set(support, labels)
    incremental = build_head(name, HeadConfig(dim=8))
    for label in (0, 1, 2):
        rows = support[labels == label]
        incremental.add_class(label, rows[:2])
        incremental.extend_class(label, rows[2:])
    queries = torch.randn(4, 8)
    assert torch.allclose(whole(queries), incremental(queries), atol=1e-5)


@pytest.mark.parametrize("name", ["prototypical", "matching"])
def test_removing_a_class_leaves_the_others_scores_unchanged(name):
    head = build_head(name, HeadConfig(dim=3))
    head.process_support_set(*three_class_support())
    queries = torch.randn(4, 3)
    before = head(queries)
    head.remove_class(20)
    assert head.classes.tolist() == [10, 30]
    assert torch.allclose(head(queries), before[:, [0, 2]], atol=1e-6)


def test_head_rejects_unknown_labels_and_duplicates():
    head = PrototypicalHead(HeadConfig(dim=3))
    head.process_support_set(*three_class_support())
    with pytest.raises(KeyError, match="unknown class 99"):
        head.remove_class(99)
    with pytest.raises(ValueError, match="already exists"):
        head.add_class(10, torch.randn(1, 3))


def test_head_rejects_float_labels_and_wrong_dimensions():
    head = PrototypicalHead(HeadConfig(dim=3))
    with pytest.raises(ValueError, match="integer"):
        head.process_support_set(torch.randn(2, 3), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="shape"):
        head.process_support_set(torch.randn(2, 4), torch.tensor([0, 1]))


def test_head_support_state_round_trips_through_state_dict():
    head = MatchingHead(HeadConfig(dim=3, context_steps=2))
    head.process_support_set(*three_class_support())
    copy = MatchingHead(HeadConfig(dim=3, context_steps=2))
    copy.load_state_dict(head.state_dict())
    queries = torch.randn(3, 3)
    assert torch.allclose(head(queries), copy(queries))


def test_untrained_full_context_embedding_starts_as_the_plain_matching_head():
    plain, context = (
        MatchingHead(HeadConfig(dim=3)),
        MatchingHead(HeadConfig(dim=3, context_steps=3)),
    )
    for head in (plain, context):
        head.process_support_set(*three_class_support())
    queries = torch.randn(4, 3)
    assert torch.allclose(plain(queries), context(queries), atol=1e-6)


def test_unknown_head_name_is_a_clear_error():
    with pytest.raises(ValueError, match="head must be one of"):
        build_head("siamese", HeadConfig())


def test_adapted_prototypes_separate_classes_the_plain_prototypes_confuse():
    # Two classes whose means point the same way; only a second, small coordinate tells them
    # apart, so plain cosine prototypes tie while a fitted linear head does not.
    generator = torch.Generator().manual_seed(0)
    base = torch.tensor([1.0, 0.0, 0.0])
    support = torch.cat(
        [
            base + torch.tensor([0.0, 0.3, 0.0]) + 0.01 * torch.randn(5, 3, generator=generator),
            base + torch.tensor([0.0, -0.3, 0.0]) + 0.01 * torch.randn(5, 3, generator=generator),
            base * 0
            + torch.tensor([0.0, 0.0, 1.0])
            + 0.01 * torch.randn(5, 3, generator=generator),
        ]
    )
    labels = torch.tensor([0] * 5 + [1] * 5 + [2] * 5)
    adapted = PrototypicalHead(HeadConfig(dim=3, adapt_steps=100, adapt_lr=0.05)).eval()
    adapted.process_support_set(support, labels)
    assert adapted.adaptation.steps_run == 100 and adapted.adaptation.blocks == 1
    assert (adapted(support).argmax(dim=1) == labels).all()
    assert not torch.equal(adapted.adaptation.weights, adapted.prototypes)


def test_adaptation_is_skipped_in_training_mode_and_new_classes_start_at_a_scaled_prototype():
    support, labels = three_class_support()
    head = PrototypicalHead(HeadConfig(dim=3, adapt_steps=20))
    head.process_support_set(support, labels)  # training mode: meta-training owns the weights
    assert torch.equal(head.adaptation.weights, head.prototypes)
    head.eval().process_support_set(support, labels)
    head.add_class(40, torch.tensor([[1.0, 1.0, 1.0]]))
    adaptation = head.adaptation
    expected = torch.nn.functional.normalize(torch.ones(3), dim=0) * adaptation.row_scale
    assert torch.allclose(adaptation.weights[-1], expected)
    assert adaptation.row_scale == adaptation.weights[:3].norm(dim=1).mean()
    assert adaptation.bias[-1] == 0


def test_adaptation_fits_benchmark_sized_sets_whole_and_splits_larger_ones_into_blocks():
    step = PrototypicalHead(HeadConfig(dim=384, adapt_steps=100)).adaptation
    assert step.block_size(150, 10, 384) >= 150  # CLINC150, 10 shots: one block, as evaluated
    assert step.block_size(150, 20, 384) >= 150
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(40, 8, generator=generator)
    support = centres.repeat_interleave(3, 0) + 0.3 * torch.randn(120, 8, generator=generator)
    labels = torch.arange(40).repeat_interleave(3)
    head = PrototypicalHead(HeadConfig(dim=8, adapt_steps=50, adapt_max_work=2e6)).eval()
    head.process_support_set(support, labels)
    assert head.adaptation.blocks > 1 and head.adaptation.steps_run == 50
    assert (head(support).argmax(dim=1) == labels).float().mean() > 0.95


def test_class_blocks_cover_every_class_once_within_the_size():
    from intentmeta.heads.adaptation import class_blocks

    blocks = class_blocks(torch.randn(100, 5), size=16)
    assert all(len(block) <= 16 for block in blocks)
    assert sorted(torch.cat(blocks).tolist()) == list(range(100))


def test_nearest_weight_mixes_prototype_and_nearest_example_cosines():
    support, labels = three_class_support()
    head = PrototypicalHead(HeadConfig(dim=3, temperature=1.0, nearest_weight=0.25))
    head.process_support_set(support, labels)
    query = torch.tensor([[0.7, 0.7, 0.1]])
    unit = torch.nn.functional.normalize
    prototype_cosine = unit(query) @ unit(head.prototypes).T  # (1, 3)
    nearest = torch.stack(
        [(unit(query) @ unit(support[labels == c]).T).max() for c in (10, 20, 30)]
    )
    assert torch.allclose(head(query)[0], 0.75 * prototype_cosine[0] + 0.25 * nearest, atol=1e-6)


def test_nearest_examples_follow_incremental_edits():
    support, labels = torch.randn(12, 8), torch.tensor([0, 1, 2] * 4)
    whole = PrototypicalHead(HeadConfig(dim=8, nearest_weight=0.3))
    whole.process_support_set(support, labels)
    incremental = PrototypicalHead(HeadConfig(dim=8, nearest_weight=0.3))
    for label in (0, 1, 2, 3):
        incremental.add_class(label, support[labels == label] if label < 3 else torch.randn(2, 8))
    incremental.remove_class(3)
    queries = torch.randn(5, 8)
    assert torch.allclose(whole(queries), incremental(queries), atol=1e-5)


def test_shrunk_whitening_turns_the_shrunk_covariance_into_the_identity():
    from intentmeta import ops

    generator = torch.Generator().manual_seed(1)
    support = torch.randn(40, 5, generator=generator) * torch.tensor([5.0, 1.0, 1.0, 0.2, 1.0])
    labels = torch.arange(40) % 4
    centre, whitening = ops.shrunk_whitening(support, labels, 4, shrinkage=0.3)
    residuals = support - ops.compute_prototypes(support, labels, 4)[labels]
    covariance = residuals.T @ residuals / (40 - 4)
    shrunk = 0.7 * covariance + 0.3 * covariance.trace() / 5 * torch.eye(5)
    assert torch.allclose(whitening @ shrunk @ whitening, torch.eye(5), atol=1e-4)
    assert torch.allclose(centre, support.mean(dim=0))


def test_whitened_matching_head_maps_later_classes_with_the_whitening_in_force():
    support, labels = torch.randn(12, 6), torch.tensor([0, 1, 2] * 4)
    head = MatchingHead(HeadConfig(dim=6, whitening=0.5)).eval()
    head.process_support_set(support, labels)
    whitening = head.whitening.matrix.clone()
    assert not torch.equal(whitening, torch.eye(6))
    head.add_class(7, torch.randn(3, 6))
    assert torch.equal(head.whitening.matrix, whitening)  # the other intents are untouched
    assert head(torch.randn(2, 6)).shape == (2, 4)


def test_a_restored_support_state_scores_like_the_saved_head_and_takes_edits():
    support, labels = torch.randn(12, 8), torch.tensor([0, 1, 2] * 4)
    config = HeadConfig(dim=8, temperature=0.1, adapt_steps=20, nearest_weight=0.1)
    saved = PrototypicalHead(config).eval()
    saved.process_support_set(support, labels)
    restored = PrototypicalHead(config).eval()
    assert restored.restore_support(dict(saved.named_buffers()), 3)
    queries = torch.randn(4, 8)
    with torch.inference_mode():
        assert torch.allclose(restored(queries), saved(queries))
        assert torch.equal(restored.top(queries, 2).columns, saved.top(queries, 2).columns)
    restored.add_class(3, torch.randn(2, 8))  # after classifying: buffers still editable
    assert restored(queries).shape == (4, 4)


@pytest.mark.parametrize("shrinkage", [0.3, 0.7])
def test_sklearn_shrinkage_gives_the_hand_written_whitening(shrinkage):
    from intentmeta import ops

    generator = torch.Generator().manual_seed(2)
    support = torch.randn(770, 384, generator=generator) * torch.linspace(0.1, 2.0, 384)
    labels = torch.arange(770) % 77
    residuals = support - ops.compute_prototypes(support, labels, 77)[labels]
    covariance = residuals.T @ residuals / (770 - 77)  # the formula the code had by hand
    isotropic = covariance.trace() / 384 * torch.eye(384)
    eigenvalues, vectors = torch.linalg.eigh((1 - shrinkage) * covariance + shrinkage * isotropic)
    expected = (vectors / eigenvalues.sqrt()) @ vectors.T
    _, whitening = ops.shrunk_whitening(support, labels, 77, shrinkage)
    assert (whitening - expected).abs().max() <= 1e-5


def test_the_plain_prototypes_score_like_the_head_without_steps():
    from intentmeta.heads import PlainPrototypicalHead

    support, labels, queries = torch.randn(12, 8), torch.tensor([0, 1, 2] * 4), torch.randn(5, 8)
    added = torch.randn(2, 8)
    plain, composed = (
        PlainPrototypicalHead(HeadConfig(dim=8)),
        build_head("prototypical", HeadConfig(dim=8)),
    )
    for head in (plain, composed):
        head.process_support_set(support, labels)
        head.add_class(5, added)
        head.remove_class(1)
    assert type(composed) is PrototypicalHead
    assert torch.equal(plain(queries), composed(queries))
