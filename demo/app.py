"""The Gradio demo: a support lead's console for a live intent registry.

Run it with ``make demo`` or ``intentmeta demo [--registry DIR] [--encoder NAME] [--host H]
[--port N]``. Tests build it in-process with :func:`build_app`. Every tab of every browser shares
one registry (and one undo history); what each tab remembers for itself (the last message, the
row clicked) lives in ``gr.State``. One module per tab: ``tab_chat``, ``tab_intents``,
``tab_examples``, ``tab_review``, ``tab_test``, ``tab_settings``; the API is in ``api``.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing leaves the machine

import gradio as gr

from intentmeta import IntentClassifier
from intentmeta.encoder import Encoder
from intentmeta.history import HistoryError

from . import api, tab_chat, tab_examples, tab_intents, tab_review, tab_settings, tab_test
from .safe_text import as_text
from .service import DemoService
from .widgets import USER_ERRORS, error_markdown, markdown, result_markdown

# Re-exported for callers of the former single-module demo.
label_value, reply_text = tab_chat.label_value, tab_chat.reply_markdown


def default_registry_dir() -> Path:
    """Where the demo keeps its intents when no ``--registry`` is given."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "intentmeta" / "demo-registry"


def open_registry(
    registry_dir: str | os.PathLike, encoder: str | Encoder | None = None
) -> IntentClassifier:
    """The registry saved in ``registry_dir``, or the built-in intents saved there if none is.

    Args:
        registry_dir: Registry directory.
        encoder: Encoder of a registry made with another than the bundled one (a Hugging Face
            name, local path or encoder object), never taken from the registry itself;
            ``None``: the bundled one.

    Raises:
        intentmeta.RegistryError: If the directory holds a damaged or foreign registry.
    """
    registry_dir = Path(registry_dir)
    if (registry_dir / "intentmeta.json").is_file():
        return IntentClassifier.load(registry_dir, encoder=encoder)
    settings = {} if encoder is None else {"encoder": encoder}
    classifier = IntentClassifier.from_builtin("ecommerce", **settings)
    classifier.save(registry_dir)
    return classifier


def undo_label(service: DemoService) -> str:
    """The undo button's text: what it would undo."""
    change = service.last_change()
    return f"Undo: {change}" if change else "Undo last change"


def build_app(
    classifier: IntentClassifier,
    registry_dir: str | os.PathLike | None = None,
    log_messages: bool = True,
):
    """The demo's page, serving ``classifier``; changes saved with history to ``registry_dir``.

    Args:
        classifier: The intents to start from (e.g. ``IntentClassifier.from_builtin()``).
        registry_dir: Directory saved after each change; ``None`` uses a temporary directory.
        log_messages: Log chat messages for the Review tab (a switch there turns it off).

    Returns:
        A ``gr.Blocks``; start it with ``.launch(server_name="127.0.0.1", server_port=...)``.

    Example:
        >>> app = build_app(IntentClassifier.from_builtin("ecommerce"))
        >>> app.launch(server_name="127.0.0.1", prevent_thread_lock=True)  # doctest: +SKIP
    """
    service = DemoService(classifier, registry_dir, log_messages=log_messages)
    where = "on the server" if service.persistent else "in a temporary directory (not kept)"
    after_edit: list = []  # filled below, once every tab's lists exist
    with gr.Blocks(title="intentmeta demo") as app:
        markdown(
            value="# intentmeta — a support bot's intents, taught and checked live\n"
            "Chat to see each message's intent and the examples behind it; teach, correct and "
            "review intents; every change is used from the next message on and kept "
            f"{where}, with undo."
        )
        with gr.Row():
            undo = gr.Button("Undo last change", size="sm", scale=0, elem_id="undo-button")
            undo_status = markdown(elem_id="undo-status")
        with gr.Tabs():
            parts = [
                tab_chat.build(service),
                tab_intents.build_add(service),
                tab_intents.build_manage(service),
                tab_examples.build(service),
                tab_review.build(service, after_edit),
                tab_test.build(service),
                tab_settings.build(service),
            ]
        lists = [pair for part in parts for pair in part.lists]
        lists.append((undo, lambda: gr.Button(value=undo_label(service))))
        outputs = [component for component, _ in lists]

        def refresh():
            return [make() for _, make in lists]

        after_edit.append((refresh, None, outputs))

        def on_undo():
            try:
                return result_markdown(service.undo())
            except HistoryError:
                return as_text("Nothing to undo: no earlier version is kept.")
            except (*USER_ERRORS, OSError) as error:
                return error_markdown(error)

        private = {"api_visibility": "private"}
        undo.click(on_undo, None, undo_status, **private).then(refresh, None, outputs, **private)
        for part in parts:
            for event in part.edits:
                event.then(refresh, None, outputs, **private)
            for trigger in part.opened:
                trigger(refresh, None, outputs, **private)
        app.load(refresh, None, outputs, **private)
        api.register(service)
    app.service = service  # for tests and embedding: the registry behind the page
    return app


def launch(
    registry: str | os.PathLike | None = None,
    host: str = "127.0.0.1",
    port: int = 7860,
    log_messages: bool = True,
    encoder: str | None = None,
) -> None:
    """Serve the demo until interrupted (what ``intentmeta demo`` runs).

    Args:
        registry: Registry directory to serve and save to; created from the built-in e-commerce
            intents if empty. Defaults to :func:`default_registry_dir`.
        host: Interface to bind; anything but loopback gets a warning (there is no login).
        port: TCP port.
        log_messages: Log chat messages for review in the registry directory.
        encoder: Encoder of a registry made with another than the bundled one; see
            :func:`open_registry`.
    """
    registry_dir = Path(registry) if registry else default_registry_dir()
    classifier = open_registry(registry_dir, encoder)
    print(f"intentmeta demo: {len(classifier)} intents, changes saved to {registry_dir}")
    if log_messages:
        print("  chat messages are logged there for review (turn off: --no-log or the Review tab)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"intentmeta demo: WARNING: serving on {host} with no login; anyone who can reach")
        print("  this address can read and change the intents")
    build_app(classifier, registry_dir, log_messages).launch(
        server_name=host, server_port=port, ssr_mode=False, show_error=True
    )
