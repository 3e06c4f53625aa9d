"""Many threads editing and classifying one classifier: nothing lost, nothing duplicated."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest
from conftest import FakeEncoder

from intentmeta import IntentClassifier, persistence

N_THREADS = 8
OPS_PER_THREAD = 300
ANCHOR = ("anchor", ["anchorword zulu", "anchorword yankee"])


def run_threads(target, n_threads: int = N_THREADS) -> list[BaseException]:
    """Start ``target(index)`` on n threads at once; return the exceptions they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(n_threads)

    def wrapped(index: int) -> None:
        try:
            barrier.wait()
            target(index)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck (deadlock?)"
    return errors


def editor(clf: IntentClassifier, index: int, seen: set[str]) -> dict[str, list[str]]:
    """Randomly edit this thread's own intents while classifying; return what it expects to be left.

    Every word is unique to one intent, so a message made of an intent's words must be classified
    as that intent: a registry whose names and head columns disagreed would show here.
    """
    rng = random.Random(index)
    mine: dict[str, list[str]] = {}
    serial = 0
    for _ in range(OPS_PER_THREAD):
        op = rng.choice(["add", "add", "extend", "rename", "remove", "classify", "classify"])
        if op == "add" and len(mine) >= 4:  # keep the registry small so the test stays fast
            op = "remove"
        if op == "add" or not mine:
            serial += 1
            name = f"t{index}_i{serial}"
            examples = [f"w{index}x{serial}a", f"w{index}x{serial}a w{index}x{serial}b"]
            seen.add(name)
            clf.add_intent(name, examples)
            mine[name] = examples
        elif op == "extend":
            name = rng.choice(list(mine))
            word = mine[name][0]
            fresh = [f"{word} extra{rng.randrange(3)}"]
            clf.add_examples(name, fresh)
            mine[name] += [text for text in fresh if text not in mine[name]]
        elif op == "rename":
            old = rng.choice(list(mine))
            serial += 1
            new = f"t{index}_i{serial}"
            seen.add(new)
            clf.rename_intent(old, new)
            mine = {new if key == old else key: value for key, value in mine.items()}
        elif op == "remove" and len(mine) > 1:
            name = rng.choice(list(mine))
            clf.remove_intent(name)
            del mine[name]
        else:
            name = rng.choice(list(mine))
            own, anchor = clf.classify_batch([mine[name][0], ANCHOR[1][0]])
            assert own.intent == name, (own.intent, name)
            assert anchor.intent == ANCHOR[0]
            assert len(set(own.scores)) == len(own.scores)
            assert set(own.scores) <= seen | {ANCHOR[0]}
    return mine


def test_eight_threads_editing_and_classifying_lose_and_duplicate_nothing():
    clf = IntentClassifier(encoder=FakeEncoder(dim=256), oos_threshold=None, top_k=50)
    clf.add_intent(*ANCHOR)
    seen: set[str] = set()
    finals: dict[int, dict[str, list[str]]] = {}

    def work(index: int) -> None:
        finals[index] = editor(clf, index, seen)

    errors = run_threads(work)
    assert errors == []
    expected = {ANCHOR[0]: ANCHOR[1]}
    for index in range(N_THREADS):
        expected.update(finals[index])
    assert sorted(clf.intents) == sorted(expected)
    assert {name: clf.examples(name) for name in clf.intents} == expected
    # the head agrees with the registry: one column per intent, each intent's message lands home
    assert clf.head.n_classes == len(expected)
    _, embeddings, owners = clf.support()
    assert embeddings.shape[0] == owners.shape[0] == sum(len(v) for v in expected.values())
    assert clf.predict([examples[0] for examples in expected.values()]) == list(expected)
    # ... and the same answers as a classifier built in one go from the final state
    rebuilt = IntentClassifier(encoder=FakeEncoder(dim=256), oos_threshold=None)
    for name, examples in expected.items():
        rebuilt.add_intent(name, examples)
    probes = [text for examples in expected.values() for text in examples]
    assert clf.predict(probes) == rebuilt.predict(probes)


def test_threads_racing_to_add_the_same_name_create_it_exactly_once():
    clf = IntentClassifier(encoder=FakeEncoder(), oos_threshold=None)
    winners: list[int] = []

    def race(index: int) -> None:
        for round_ in range(50):
            try:
                clf.add_intent(f"shared{round_}", [f"thread{index} round{round_}"])
                winners.append(round_)
            except ValueError as error:
                assert "already exists" in str(error)

    assert run_threads(race) == []
    assert sorted(winners) == list(range(50))
    assert sorted(clf.intents) == sorted(f"shared{i}" for i in range(50))
    assert clf.head.n_classes == 50


def test_readers_always_see_a_consistent_snapshot_while_writers_churn():
    clf = IntentClassifier(encoder=FakeEncoder(), oos_threshold=None)
    clf.add_intent(*ANCHOR)
    writers_done = threading.Semaphore(0)
    n_writers = 4

    def work(index: int) -> None:
        if index < n_writers:
            try:
                for step in range(150):
                    name = f"churn{index}_{step}"
                    clf.add_intent(name, [f"c{index}s{step} one", f"c{index}s{step} two"])
                    clf.add_examples(name, [f"c{index}s{step} three"])
                    clf.remove_intent(name)
            finally:
                writers_done.release()
            return
        while True:
            names, embeddings, owners = clf.support()
            assert len(set(names)) == len(names)
            assert embeddings.shape[0] == owners.shape[0]
            assert int(owners.max()) == len(names) - 1
            assert clf.classify(ANCHOR[1][0]).intent == ANCHOR[0]
            if writers_done._value == n_writers:
                return

    assert run_threads(work) == []
    assert clf.intents == [ANCHOR[0]]


def test_two_processes_worth_of_savers_and_a_loader_never_see_a_half_saved_registry(tmp_path):
    directory = tmp_path / "registry"
    first = IntentClassifier(encoder=FakeEncoder(), oos_threshold=None)
    first.add_intent("alpha", ["alpha words"])
    second = IntentClassifier(encoder=FakeEncoder(), oos_threshold=None)
    second.add_intent("beta", ["beta words"])
    first.save(directory)
    loads: list[list[str]] = []

    def work(index: int) -> None:
        for _ in range(40):
            if index == 0:
                first.save(directory)
            elif index == 1:
                second.save(directory)
            else:
                loads.append(IntentClassifier.load(directory, encoder=FakeEncoder()).intents)

    assert run_threads(work, n_threads=4) == []
    assert len(loads) == 80 and all(intents in (["alpha"], ["beta"]) for intents in loads)
    names = sorted(path.name for path in Path(directory).iterdir())
    assert len(names) == 2 and persistence.MANIFEST in names


@pytest.mark.parametrize("head", ["prototypical", "matching"])
def test_saving_while_others_edit_writes_a_snapshot_that_loads(tmp_path, head):
    clf = IntentClassifier(encoder=FakeEncoder(), head=head, oos_threshold=None)
    clf.add_intent(*ANCHOR)

    def work(index: int) -> None:
        for step in range(40):
            if index == 0:
                clf.save(tmp_path / "registry")
                loaded = IntentClassifier.load(tmp_path / "registry", encoder=FakeEncoder())
                assert ANCHOR[0] in loaded
                assert loaded.head.n_classes == len(loaded.intents)
            else:
                name = f"e{index}_{step}"
                clf.add_intent(name, [f"e{index}s{step} text"])
                if step % 2:
                    clf.remove_intent(name)

    assert run_threads(work, n_threads=4) == []
    clf.save(tmp_path / "registry")
    loaded = IntentClassifier.load(tmp_path / "registry", encoder=FakeEncoder())
    saved = {name: loaded.examples(name) for name in loaded.intents}
    assert saved == {name: clf.examples(name) for name in clf.intents}
