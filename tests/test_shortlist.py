"""The shortlisted top-k of the prototype head gives the classes of the full computation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from intentmeta import ops
from intentmeta.heads import HeadConfig, PrototypicalHead

DEFAULT = dict(temperature=0.1, adapt_steps=30, nearest_weight=0.1, shortlist=10_000)
#: shortlist is the head's attribute (most classes scored exactly), the rest HeadConfig.


def random_head(n_classes: int, per_class: int, dim: int = 16, seed: int = 0, **settings):
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(n_classes, dim, generator=generator)
    support = centres.repeat_interleave(per_class, 0) + torch.randn(
        n_classes * per_class, dim, generator=generator
    )
    labels = torch.arange(n_classes).repeat_interleave(per_class) * 3 + 5  # not 0..n-1
    settings = dict(settings or DEFAULT)
    shortlist = settings.pop("shortlist", 128)
    head = PrototypicalHead(HeadConfig(dim=dim, **settings)).eval()
    head.shortlist = shortlist
    head.process_support_set(support, labels)
    return head, generator


def assert_top_matches_full(head, queries, k=5):
    with torch.inference_mode():
        full = head(queries)  # (n_query, n_classes)
        values, columns, _, exact = head.top(queries, k)
    assert exact.all()
    expected = full.topk(min(k, head.n_classes), dim=1)
    assert torch.equal(columns, expected.indices)
    assert torch.allclose(values, expected.values, atol=1e-5)


def test_fp16_scores_stay_within_the_stated_bound_of_fp32():
    generator = torch.Generator().manual_seed(0)
    rows = torch.randn(2000, 384, generator=generator) * 2.0
    rows[:10] = 1.0 + torch.rand(10, 384, generator=generator) * 2.0**-10  # no cancellation
    rows[10:20, ::2], rows[10:20, 1::2] = 1.0, -1.0  # total cancellation
    queries = F.normalize(torch.randn(8, 384, generator=generator), dim=1)
    queries[0] = F.normalize(torch.ones(384), dim=0)
    exact = queries.double() @ rows.double().T
    approx = ops.half_precision_scores(queries, rows.half())
    bound = ops.HALF_PRECISION_ERROR * rows.norm(dim=1) + 1e-6
    assert ((approx.double() - exact).abs() <= bound.double()).all()


@pytest.mark.parametrize(
    "settings", [DEFAULT, dict(temperature=0.1), dict(nearest_weight=0.5, shortlist=10_000)]
)
def test_top_classes_equal_the_full_computation(settings):
    head, generator = random_head(300, 4, **settings)
    assert_top_matches_full(head, torch.randn(64, 16, generator=generator))


def test_a_capped_shortlist_flags_the_messages_it_may_answer_differently():
    head, generator = random_head(300, 4, **{**DEFAULT, "shortlist": 8})
    queries = torch.randn(64, 16, generator=generator)
    with torch.inference_mode():
        full = head(queries).topk(5, dim=1).indices
        _, columns, _, exact = head.top(queries, 5)
    assert 0 < int(exact.sum()) < len(queries)  # the cap bites on some messages only
    assert torch.equal(columns[exact], full[exact])


def test_top_classes_follow_incremental_edits():
    head, generator = random_head(200, 3)
    for label in range(1000, 1030):
        head.add_class(label, torch.randn(3, 16, generator=generator))
    for label in (5, 8, 1003, 1029, 302):
        head.remove_class(label)
    head.extend_class(11, torch.randn(2, 16, generator=generator))
    assert_top_matches_full(head, torch.randn(64, 16, generator=generator))


def test_a_winner_outside_the_top_prototypes_by_a_small_margin_is_still_found():
    # Forty classes have prototype cosines 0.605-0.636 to the query, the planted class only 0.60,
    # so its prototype ranks 41st; but one of its examples is the query itself, and a tenth of
    # nearest-example evidence lifts it to 0.9 * 0.60 + 0.1 * 1 = 0.64, past all of them.
    dim = 64
    generator = torch.Generator().manual_seed(3)
    axes = torch.linalg.qr(torch.randn(dim, dim, generator=generator))[0].T  # orthonormal rows
    query = axes[:1]  # (1, dim)
    head = PrototypicalHead(HeadConfig(dim=dim, temperature=0.1, nearest_weight=0.1)).eval()
    for label in range(40):
        cosine = 0.605 + 0.0008 * label
        example = cosine * axes[0] + (1 - cosine**2) ** 0.5 * axes[1 + label % 20]
        head.add_class(label, example.repeat(2, 1))
    far = -0.28 * axes[0] + (1 - 0.28**2) ** 0.5 * axes[30]  # prototype cosine sqrt(0.72/2)
    head.add_class(99, torch.stack([axes[0], far]))
    for label in range(100, 400):
        head.add_class(label, torch.randn(2, dim, generator=generator))
    with torch.inference_mode():
        rank = (head.linear_form()[0] @ query[0]).argsort(descending=True)
        assert 99 not in head.classes[rank[:40]].tolist()  # not among the top prototypes
        assert head.classes[head(query).argmax()] == 99  # the full computation picks it
        _, columns, _, _ = head.top(query, 1)
    assert head.classes[columns[0, 0]] == 99


def test_normaliser_is_exact_when_every_class_is_shortlisted():
    head, generator = random_head(6, 3)
    queries = torch.randn(4, 16, generator=generator)
    with torch.inference_mode():
        normaliser = head.top(queries, 6).log_normaliser
        assert torch.allclose(normaliser, head(queries).logsumexp(dim=1), atol=1e-5)


@pytest.mark.parametrize("n_rows", [3000, 60])  # the fp16 screen, and one exact product
def test_chosen_and_runner_up_equal_the_full_float32_product(n_rows):
    generator = torch.Generator().manual_seed(4)
    rows = F.normalize(torch.randn(n_rows, 32, generator=generator), dim=1)
    rows[1] = rows[0]  # an exact tie
    queries = F.normalize(torch.randn(40, 32, generator=generator), dim=1)
    queries[0] = rows[0]
    full = queries @ rows.T  # (40, 3000)
    best = full.argmax(dim=1)
    chosen, runner_up = ops.chosen_and_runner_up(queries, rows, rows.half(), best)
    others = full.scatter(1, best[:, None], -torch.inf)
    assert torch.allclose(chosen, full.gather(1, best[:, None])[:, 0], atol=1e-6)
    assert torch.allclose(runner_up, others.max(dim=1).values, atol=1e-6)
    lone = ops.chosen_and_runner_up(queries[:2], rows[:1], rows[:1].half(), torch.zeros(2).long())
    assert torch.isinf(lone[1]).all()


def test_one_message_gets_the_classes_of_the_full_computation():
    head, generator = random_head(300, 4)
    for query in torch.randn(12, 16, generator=generator):
        assert_top_matches_full(head, query[None])  # the one-message path: no batch around it


def test_fewer_classes_than_the_first_shortlist_are_all_scored_exactly():
    head, generator = random_head(5, 3)  # 5 classes, a first shortlist of 8
    queries = torch.randn(3, 16, generator=generator)
    assert_top_matches_full(head, queries, k=3)
    assert_top_matches_full(head, queries[:1], k=3)
    with torch.inference_mode():
        normaliser = head.top(queries[:1], 3).log_normaliser
        assert torch.allclose(normaliser, head(queries[:1]).logsumexp(dim=1), atol=1e-5)


def test_chosen_and_runner_up_of_one_query_equal_the_full_float32_product():
    generator = torch.Generator().manual_seed(5)
    rows = F.normalize(torch.randn(500, 32, generator=generator), dim=1)
    for query in F.normalize(torch.randn(10, 32, generator=generator), dim=1):
        full = query[None] @ rows.T  # (1, 500)
        best = full.argmax(dim=1)
        chosen, runner_up = ops.chosen_and_runner_up(query[None], rows, rows.half(), best)
        assert torch.allclose(chosen, full[0, best], atol=1e-6)
        assert torch.allclose(
            runner_up, full.scatter(1, best[:, None], -torch.inf).max(), atol=1e-6
        )


def test_a_small_registry_is_scored_in_one_exact_pass():
    head, generator = random_head(50, 4, shortlist=128)  # at most EXACT_PASS classes
    queries = torch.randn(5, 16, generator=generator)
    assert_top_matches_full(head, queries)
    with torch.inference_mode():
        exact = head(queries).logsumexp(dim=1)
        assert torch.equal(head.top(queries, 5).log_normaliser, exact)  # not an estimate
