"""The demo's API: what the page can do, for programs (``gradio_client`` or plain HTTP).

Every endpoint answers bad input with an error whose message says what is wrong, and changes
nothing then. Endpoints: ``/classify``, ``/list_intents``, ``/add_intent``, ``/add_examples``,
``/remove_examples``, ``/remove_intent``, ``/undo``, ``/export``.
"""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from intentmeta import exchange
from intentmeta.history import HistoryError

from .example_edits import export_file
from .service import DemoService, EditResult, SaveFailed
from .widgets import error_text


def _answer(call: Callable[[], object]) -> object:
    try:
        result = call()
    except (TypeError, ValueError, KeyError, RuntimeError, SaveFailed, HistoryError) as error:
        raise gr.Error(error_text(error), print_exception=False) from None
    if isinstance(result, EditResult) and result.needs_confirmation:
        raise gr.Error(
            f"{result.as_text()}\nnothing was changed; call again with confirm=True to save anyway",
            print_exception=False,
        )
    return result.as_text() if isinstance(result, EditResult) else result


def register(service: DemoService) -> None:
    """Add the API endpoints to the ``gr.Blocks`` being built."""

    def classify(text: str) -> dict:
        """Classify one message: intent (null when out of scope), confidence, scores, evidence."""
        return _answer(lambda: service.describe(text))

    def list_intents() -> list:
        """Every intent with its examples: ``[{"name": ..., "examples": [...]}, ...]``."""
        intents = exchange.registry_intents(service.classifier)
        return [{"name": name, "examples": examples} for name, examples in intents.items()]

    def add_intent(name: str, examples: str, confirm: bool = False) -> str:
        """Add an intent from a name and examples (one per line). Warnings (a near-duplicate
        intent, examples that look like another intent) refuse it unless ``confirm``."""
        return _answer(lambda: service.add_intent(name, examples, confirm=bool(confirm)))

    def add_examples(name: str, examples: str, confirm: bool = False) -> str:
        """Add examples (one per line) to an intent; confusable ones need ``confirm``."""
        return _answer(lambda: service.add_examples(name, examples, confirm=bool(confirm)))

    def remove_examples(name: str, examples: str) -> str:
        """Delete examples (one per line) of an intent; it keeps at least one."""
        return _answer(lambda: service.remove_examples(name, examples))

    def remove_intent(name: str) -> str:
        """Delete an intent and its examples (``/undo`` brings it back)."""
        return _answer(lambda: service.remove_intent(name))

    def undo() -> str:
        """Undo the last change to the registry, whoever made it."""
        return _answer(service.undo)

    def export(format: str = "csv") -> str:
        """Every intent and example as CSV (``intent,example`` rows) or JSON text."""
        return _answer(lambda: export_file(service, format).read_text(encoding="utf-8"))

    for endpoint in (
        classify,
        list_intents,
        add_intent,
        add_examples,
        remove_examples,
        remove_intent,
        undo,
        export,
    ):
        gr.api(endpoint, api_name=endpoint.__name__)
