"""Shared fixtures: a tiny deterministic encoder, and the real bundled one for integration tests."""

from __future__ import annotations

import csv
import hashlib
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest
import torch
import torch.nn.functional as F


class FakeEncoder:
    """Bag-of-words encoder: each word has a fixed random vector, a text is their normalised sum.

    Texts sharing words are close, texts sharing none are nearly orthogonal: a known geometry
    that makes few-shot answers predictable, and it encodes thousands of texts per millisecond.
    """

    name = "fake-bag-of-words"

    def __init__(self, dim: int = 32) -> None:
        self.dim = dim
        self.calls = 0

    def word_vector(self, word: str) -> torch.Tensor:
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
        return torch.randn(self.dim, generator=torch.Generator().manual_seed(seed))

    def encode(self, texts, *, progress: bool = False) -> torch.Tensor:
        self.calls += 1
        rows = []
        for text in texts:
            words = text.lower().split()[:256] or ["<empty>"]
            rows.append(torch.stack([self.word_vector(w) for w in words]).sum(dim=0))
        if not rows:
            return torch.empty(0, self.dim)
        return F.normalize(torch.stack(rows), dim=-1)


def write_intent_csv(path: Path, rows: list[tuple[str, str]]) -> None:
    """A BANKING77-style ``text,category`` CSV of ``(text, intent)`` rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "category"])
        writer.writerows(rows)


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture
def toy_intents() -> dict[str, list[str]]:
    """Three intents whose examples share distinctive words."""
    return {
        "track_order": ["where is my parcel", "track my parcel please", "parcel tracking status"],
        "refund": ["i want my money back", "money back refund", "refund my money now"],
        "greeting": ["hello there", "hi hello", "hello good morning"],
    }


@pytest.fixture
def toy_classifier(fake_encoder, toy_intents):
    from intentmeta import IntentClassifier

    clf = IntentClassifier(encoder=fake_encoder, oos_threshold=None)
    for name, examples in toy_intents.items():
        clf.add_intent(name, examples)
    return clf


@pytest.fixture(scope="session")
def real_encoder():
    from intentmeta.encoder import shared_encoder

    return shared_encoder()


@pytest.fixture(scope="module")
def running_demo(real_encoder, tmp_path_factory):
    """The demo app on the built-in intents, served on a free loopback port for one module.

    It saves (with history, for undo) to a fresh registry directory of its own.
    """
    from demo.app import build_app
    from demo.screenshot import free_port
    from intentmeta import IntentClassifier

    app = build_app(
        IntentClassifier.from_builtin("ecommerce", encoder=real_encoder),
        tmp_path_factory.mktemp("demo-registry"),
    )
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield app, f"http://127.0.0.1:{port}/"
    app.close()
