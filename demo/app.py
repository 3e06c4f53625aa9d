"""The Gradio chat demo: chat with the classifier and teach it new intents live.

Run it with ``make demo`` or ``intentmeta demo [--registry DIR] [--host H] [--port N]``. Tests build
it in-process with :func:`build_app`. Every tab of every browser shares one registry; what each tab
remembers for itself (the last message, for corrections) lives in ``gr.State``.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing leaves the machine

import gradio as gr

from intentmeta import IntentClassifier, Prediction

from .service import DemoService, EditResult, percent

HEADS = ["prototypical", "matching"]
THRESHOLD_MODES = ["auto", "fixed", "off"]
NEAREST_HEADERS = ["intent", "example", "score"]  # score: cosine similarity
INTENT_HEADERS = ["intent", "examples", "first example"]


def default_registry_dir() -> Path:
    """Where the demo keeps its intents when no ``--registry`` is given."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "intentmeta" / "demo-registry"


def open_registry(registry_dir: str | os.PathLike) -> IntentClassifier:
    """The registry saved in ``registry_dir``, or the built-in intents saved there if none is.

    Raises:
        intentmeta.RegistryError: If the directory holds a damaged or foreign registry.
    """
    registry_dir = Path(registry_dir)
    if (registry_dir / "intentmeta.json").is_file():
        return IntentClassifier.load(registry_dir)
    classifier = IntentClassifier.from_builtin("ecommerce")
    classifier.save(registry_dir)
    return classifier


def reply_text(prediction: Prediction) -> str:
    """The assistant's chat reply for one prediction."""
    if prediction.is_out_of_scope:
        guess = prediction.best_intent
        hint = f" The closest intent is **{guess}**, but it is not close enough." if guess else ""
        return f"**Out of scope**: this fits none of my intents.{hint}"
    return f"**{prediction.intent}** (confidence {percent(prediction.confidence)})"


def label_value(prediction: Prediction) -> dict[str, float]:
    """The top intents for ``gr.Label``, led by "out of scope" when the message fits none."""
    scores = dict(prediction.scores)
    if prediction.is_out_of_scope:
        scores = {"out of scope": prediction.confidence, **scores}
    return scores


def _error(error: Exception) -> str:
    message = error.args[0] if isinstance(error, KeyError) and error.args else error
    return f"**Error:** {message}"


def build_app(classifier: IntentClassifier, registry_dir: str | os.PathLike | None = None):
    """The demo's page, serving ``classifier``; changes are saved to ``registry_dir`` if given.

    Args:
        classifier: The intents to start from (e.g. ``IntentClassifier.from_builtin()``).
        registry_dir: Directory saved after each change; ``None`` keeps changes in memory.

    Returns:
        A ``gr.Blocks``; start it with ``.launch(server_name="127.0.0.1", server_port=...)``.

    Example:
        >>> app = build_app(IntentClassifier.from_builtin("ecommerce"))
        >>> app.launch(server_name="127.0.0.1", prevent_thread_lock=True)  # doctest: +SKIP
    """
    service = DemoService(classifier, registry_dir)
    where = f"`{service.registry_dir}`" if service.registry_dir else "memory only (not saved)"

    def intent_choices() -> gr.Dropdown:
        return gr.Dropdown(choices=service.classifier.intents)

    def on_refresh_lists():
        return gr.Dataframe(value=service.intent_rows()), intent_choices(), intent_choices()

    # ----------------------------------------------------------------------------- handlers
    def on_chat(message: str, history: list, last: str | None):
        history = list(history or [])
        if not isinstance(message, str) or not message.strip():
            return "", history, gr.skip(), gr.skip(), last, intent_choices()
        try:
            prediction = service.classify(message)
            nearest = service.nearest(message)
        except (TypeError, ValueError, RuntimeError) as error:
            history.append({"role": "assistant", "content": f"**Sorry:** {error}"})
            return "", history, None, [], last, intent_choices()
        history.append({"role": "user", "content": message.strip()})
        history.append({"role": "assistant", "content": reply_text(prediction)})
        rows = [[name, example, round(score, 2)] for name, example, score in nearest]
        return "", history, label_value(prediction), rows, message.strip(), intent_choices()

    def on_correct(intent: str | None, last: str | None):
        if not last:
            return "**Error:** send a message in the chat first", *on_refresh_lists()
        try:
            result = service.correct(last, intent)
        except (TypeError, ValueError, KeyError, RuntimeError) as error:
            return _error(error), *on_refresh_lists()
        return result.as_markdown(), *on_refresh_lists()

    def on_add_intent(name: str, examples: str):
        try:
            result = service.add_intent(name, examples)
        except (TypeError, ValueError, KeyError) as error:
            return _error(error), gr.skip(), gr.skip(), *on_refresh_lists()
        return result.as_markdown(), "", "", *on_refresh_lists()

    def on_show_examples(name: str | None):
        if not name or name not in service.classifier:
            return ""
        return "\n".join(f"- {text}" for text in service.classifier.examples(name))

    def on_add_examples(name: str | None, examples: str):
        try:
            result = service.add_examples(name, examples)
        except (TypeError, ValueError, KeyError) as error:
            return _error(error), gr.skip(), on_show_examples(name), *on_refresh_lists()
        return result.as_markdown(), "", on_show_examples(name), *on_refresh_lists()

    def on_delete_intent(name: str | None):
        try:
            result = service.remove_intent(name)
        except (TypeError, ValueError, KeyError) as error:
            return _error(error), "", *on_refresh_lists()
        return result.as_markdown(), "", *on_refresh_lists()

    def on_apply_settings(head: str, mode: str, value: float):
        threshold = {"auto": "auto", "off": None}.get(mode, float(value))
        try:
            result = service.apply_settings(head, threshold)
        except (TypeError, ValueError, OSError) as error:
            return _error(error), *on_refresh_lists()
        return result.as_markdown(), *on_refresh_lists()

    def on_restore_builtin():
        return service.restore_builtin().as_markdown(), *on_refresh_lists()

    # ----------------------------------------------------------------------------- API
    def api_classify(text: str) -> dict:
        """Classify one message: intent (null when out of scope), confidence, scores, evidence."""
        try:
            return service.describe(text)
        except (TypeError, ValueError, RuntimeError) as error:
            raise gr.Error(str(error), print_exception=False) from None

    def api_add_intent(name: str, examples: str) -> str:
        """Add an intent from a name and examples (one per line); returns what was done."""
        try:
            result: EditResult = service.add_intent(name, examples)
        except (TypeError, ValueError, KeyError) as error:
            raise gr.Error(str(error), print_exception=False) from None
        return "\n".join([result.message, *(f"warning: {w}" for w in result.warnings)])

    # ----------------------------------------------------------------------------- layout
    with gr.Blocks(title="intentmeta demo") as app:
        last_message = gr.State(None)  # per browser tab: the message a correction applies to
        gr.Markdown(
            "# intentmeta — teach a support bot a new intent in seconds\n"
            "Type a customer message to see its intent, or teach a new intent from a few "
            f"examples; it is used from the next message on. Intents are kept in {where}."
        )
        with gr.Tabs():
            with gr.Tab("Chat"), gr.Row():
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(label="Customer chat", height=470, elem_id="chat")
                    with gr.Row():
                        message = gr.Textbox(
                            placeholder="Type a customer message and press Enter",
                            show_label=False,
                            scale=5,
                            max_length=service.limits.max_message_chars,
                            elem_id="chat-input",
                        )
                        send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
                    with gr.Accordion("Wrong? Correct the last prediction", open=False):
                        correct_to = gr.Dropdown(
                            label="The right intent (pick one, or type a new name)",
                            choices=service.classifier.intents,
                            allow_custom_value=True,
                            elem_id="correct-to",
                        )
                        correct_btn = gr.Button(
                            "Add the last message as its example", elem_id="correct-button"
                        )
                        correct_status = gr.Markdown(elem_id="correct-status")
                with gr.Column(scale=2):
                    top = gr.Label(label="Top intents", num_top_classes=5, elem_id="top")
                    nearest = gr.Dataframe(
                        headers=NEAREST_HEADERS,
                        label="Nearest examples (the evidence)",
                        interactive=False,
                        wrap=True,
                        column_widths=["38%", "47%", "15%"],
                        elem_id="nearest",
                    )
            with gr.Tab("Add intent", elem_id="tab-add"):
                add_name = gr.Textbox(
                    label="Intent name (letters, digits, _ - . and spaces)",
                    placeholder="gift_card_balance",
                    max_length=64,
                    elem_id="add-name",
                )
                add_text = gr.Textbox(
                    label=f"Examples, one per line (3-10 work best, up to "
                    f"{service.limits.max_examples})",
                    lines=6,
                    placeholder="how much is on my gift card\ncheck my gift card balance",
                    elem_id="add-examples",
                )
                add_btn = gr.Button("Add intent", variant="primary", elem_id="add-button")
                add_status = gr.Markdown(elem_id="add-status")
            with gr.Tab("Manage intents", elem_id="tab-manage") as manage_tab:
                table = gr.Dataframe(
                    value=service.intent_rows(),
                    headers=INTENT_HEADERS,
                    label="Intents",
                    interactive=False,
                    elem_id="intent-table",
                    wrap=True,
                )
                with gr.Row():
                    pick = gr.Dropdown(label="Intent", choices=service.classifier.intents)
                    refresh = gr.Button("Refresh")
                pick_examples = gr.Markdown()
                more_text = gr.Textbox(label="More examples, one per line", lines=3)
                with gr.Row():
                    more_btn = gr.Button("Add examples", variant="primary")
                    delete_btn = gr.Button("Delete intent", variant="stop")
                manage_status = gr.Markdown()
            with gr.Tab("Settings"):
                config = service.classifier.config
                fixed = isinstance(config.oos_threshold, (int, float))
                head = gr.Radio(HEADS, value=config.head, label="Few-shot head")
                mode = gr.Radio(
                    THRESHOLD_MODES,
                    value="fixed" if fixed else "off" if config.oos_threshold is None else "auto",
                    label="Out-of-scope threshold",
                )
                value = gr.Slider(
                    -1.0,
                    1.0,
                    value=float(config.oos_threshold) if fixed else 0.5,
                    step=0.01,
                    label="Fixed threshold (cosine similarity)",
                )
                apply_btn = gr.Button("Apply settings", variant="primary")
                restore_btn = gr.Button("Restore the built-in e-commerce intents")
                settings_status = gr.Markdown()

        # ------------------------------------------------------------------------- wiring
        lists = [table, pick, correct_to]
        chat_io = {
            "fn": on_chat,
            "inputs": [message, chatbot, last_message],
            "outputs": [message, chatbot, top, nearest, last_message, correct_to],
            "api_visibility": "private",
        }
        message.submit(**chat_io)
        send.click(**chat_io)
        correct_btn.click(
            on_correct,
            [correct_to, last_message],
            [correct_status, *lists],
            api_visibility="private",
        )
        add_btn.click(
            on_add_intent,
            [add_name, add_text],
            [add_status, add_name, add_text, *lists],
            api_visibility="private",
        )
        pick.change(on_show_examples, pick, pick_examples, api_visibility="private")
        more_btn.click(
            on_add_examples,
            [pick, more_text],
            [manage_status, more_text, pick_examples, *lists],
            api_visibility="private",
        )
        delete_btn.click(
            on_delete_intent, pick, [manage_status, pick_examples, *lists], api_visibility="private"
        )
        apply_btn.click(
            on_apply_settings,
            [head, mode, value],
            [settings_status, *lists],
            api_visibility="private",
        )
        restore_btn.click(
            on_restore_builtin, None, [settings_status, *lists], api_visibility="private"
        )
        for trigger in (refresh.click, manage_tab.select, app.load):
            trigger(on_refresh_lists, None, lists, api_visibility="private")
        gr.api(api_classify, api_name="classify")
        gr.api(api_add_intent, api_name="add_intent")
    app.service = service  # for tests and embedding: the registry behind the page
    return app


def launch(
    registry: str | os.PathLike | None = None, host: str = "127.0.0.1", port: int = 7860
) -> None:
    """Serve the demo until interrupted (what ``intentmeta demo`` runs).

    Args:
        registry: Registry directory to serve and save to; created from the built-in e-commerce
            intents if it holds none. Default: ``~/.cache/intentmeta/demo-registry``.
        host: Interface to bind; the loopback interface unless told otherwise.
        port: TCP port.
    """
    registry_dir = Path(registry) if registry else default_registry_dir()
    classifier = open_registry(registry_dir)
    print(f"intentmeta demo: {len(classifier)} intents, changes saved to {registry_dir}")
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"intentmeta demo: WARNING: serving on {host} with no login; anyone who can reach")
        print("  this address can read and change the intents")
    build_app(classifier, registry_dir).launch(
        server_name=host, server_port=port, ssr_mode=False, show_error=True
    )
