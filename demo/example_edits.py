"""Example-level control: search, edit, move and delete one example; rename; import and export.

Each function takes the :class:`~demo.service.DemoService` and saves through it, so every change
is one version in the registry's history and can be undone.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from intentmeta import exchange

from .service import DemoService, EditResult

MAX_ROWS_SHOWN = 500  # one page of a table stays fast in a browser


def example_rows(service: DemoService, query: str | None = None) -> list[list[str]]:
    """``[intent, example]`` rows whose intent or example contains ``query`` (any case)."""
    needle = (query or "").strip().casefold()
    rows = []
    for name, examples in exchange.registry_intents(service.classifier).items():
        for text in examples:
            if not needle or needle in text.casefold() or needle in name.casefold():
                rows.append([name, text])
                if len(rows) >= MAX_ROWS_SHOWN:
                    return rows
    return rows


def edit_example(
    service: DemoService, intent: object, old: object, new: object, new_intent: object = None
) -> EditResult:
    """Change one example's text, or move it to another intent, in one saved step.

    Raises:
        KeyError: If the intent or the example no longer exists.
        ValueError: If the new text is unacceptable, or moving would leave an intent empty.
    """
    new_intent = intent if new_intent in (None, "") else new_intent
    text = service.check_message(new)
    with service._edit_lock:
        examples = service.examples_of(intent)
        service.examples_of(new_intent)
        if old not in examples:
            raise KeyError(f"{intent!r} has no example {old!r} (another tab may have changed it)")
        if (new_intent, text) == (intent, old):
            return EditResult("nothing to change")
        if new_intent != intent and len(examples) == 1:
            raise ValueError(
                f"{old!r} is the only example of {intent!r}; add another first, or delete "
                "the intent"
            )

        def change(clf):
            if len(examples) == 1:  # same intent, one example: add the new text first
                clf.add_examples(new_intent, [text])
                clf.remove_examples(intent, [old])
            else:
                clf.remove_examples(intent, [old])
                clf.add_examples(new_intent, [text])

        where = f"moved to {new_intent!r}" if new_intent != intent else f"in {intent!r}"
        service._commit(f"changed an example {where}", change)
    return EditResult(f"changed the example {old!r} to {text!r}, {where}")


def delete_example(service: DemoService, intent: object, text: object) -> EditResult:
    """Delete one example (an intent keeps at least one)."""
    if len(service.examples_of(intent)) == 1:
        raise ValueError(f"{text!r} is the only example of {intent!r}; delete the intent instead")
    result = service.remove_examples(intent, [text])
    return EditResult(f"{result.message}. Undo last change brings it back")


def rename_intent(service: DemoService, old: object, new: object) -> EditResult:
    """Give an intent a new name, keeping its examples."""
    if not isinstance(new, str) or not new.strip():
        raise ValueError("type the new name")
    new = new.strip()
    service.examples_of(old)
    service._commit(f"renamed {old!r} to {new!r}", lambda clf: clf.rename_intent(old, new))
    return EditResult(f"renamed {old!r} to {new!r}")


def import_file(service: DemoService, path: str | Path | None) -> EditResult:
    """Add the intents of a CSV or JSON file (new intents, and new examples of existing ones).

    Raises:
        ValueError: Naming the first problem in the file; nothing is changed.
    """
    if not path:
        raise ValueError("choose a .csv or .json file first")
    intents = exchange.read_intents(path)
    limits = service.limits
    total = sum(map(len, intents.values()))
    if total > limits.max_examples_per_intent * 10:
        raise ValueError(
            f"{total:,} examples; the demo imports up to {limits.max_examples_per_intent * 10:,}"
        )
    new = [name for name in intents if name not in service.classifier]
    if len(service.classifier) + len(new) > limits.max_intents:
        raise ValueError(f"the demo holds at most {limits.max_intents} intents")
    for name, examples in intents.items():
        for text in examples:
            if len(text) > limits.max_message_chars:
                raise ValueError(
                    f"an example of {name!r} is longer than {limits.max_message_chars:,} characters"
                )
    summary: list[exchange.ImportSummary] = []
    service._commit(
        f"imported {Path(path).name!r}",
        lambda clf: summary.append(exchange.import_intents(clf, intents)),
    )
    return EditResult(str(summary[0]))


def export_file(service: DemoService, fmt: str = "csv") -> Path:
    """Every intent and example in a fresh ``intents.csv`` or ``intents.json`` to download."""
    fmt = exchange.format_of("", fmt)
    folder = Path(tempfile.mkdtemp(prefix="intentmeta-export-"))
    return exchange.write_intents(service.classifier, folder / f"intents.{fmt}", fmt)
