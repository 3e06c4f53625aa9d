"""The Review tab: messages the registry rejects or doubts, grouped; one click to an intent."""

from __future__ import annotations

import gradio as gr

from .review import review_groups
from .safe_text import as_text
from .service import DemoService
from .widgets import USER_ERRORS, TabParts, error_markdown, markdown, result_markdown

SHOWN_PER_GROUP = 8


def build(service: DemoService, after_edit: list) -> TabParts:
    """The Review tab; ``after_edit`` will hold ``(fn, outputs)`` to refresh the other tabs."""
    with gr.Tab("Review", elem_id="tab-review") as tab:
        groups = gr.State([])  # per browser tab: [(suggested name, [texts], known intent or None)]
        markdown(
            value="Messages that the intents reject (out of scope) or answer with low "
            "confidence, grouped by meaning. Turn a group into a new intent, or add it to one."
        )
        with gr.Row():
            logging = gr.Checkbox(
                value=service.log.enabled,
                label=f"Log chat messages for review (kept beside the registry, newest "
                f"{service.log.settings.cap:,}; off: nothing is written)",
                elem_id="log-switch",
                scale=3,
            )
            refresh = gr.Button("Find groups", variant="primary", elem_id="review-refresh")
            clear = gr.Button("Clear the log", elem_id="review-clear")
        status = markdown(elem_id="review-status")

        def current_groups() -> list:
            return [
                (group.name, list(group.texts[: service.limits.max_examples]), group.known)
                for group in review_groups(service.classifier, service.log)
            ]

        def make_intent(texts: list[str], name: str):
            try:
                result = service.add_intent(name, texts, confirm=True)
            except USER_ERRORS as error:
                return error_markdown(error), gr.skip()
            return result_markdown(result), current_groups()

        def add_to(texts: list[str], name: str | None):
            if not name:
                return error_markdown("choose the intent to add them to"), gr.skip()
            try:
                result = service.add_examples(name, texts, confirm=True)
            except USER_ERRORS as error:
                return error_markdown(error), gr.skip()
            return result_markdown(result), current_groups()

        @gr.render(inputs=groups)
        def show(found: list):
            if not found:
                markdown(value="*Nothing to review: press **Find groups** after some chats.*")
            for index, (name, texts, known) in enumerate(found):
                with gr.Group(elem_classes=["review-group"], elem_id=f"review-group-{index}"):
                    more = f" (and {len(texts) - SHOWN_PER_GROUP} more)" if len(texts) > 8 else ""
                    fits = f", close to **{as_text(known)}**" if known else ""
                    markdown(
                        value=f"**{len(texts)} message(s)**{fits}{more}\n"
                        + "\n".join(f"- {as_text(t)}" for t in texts[:SHOWN_PER_GROUP])
                    )
                    with gr.Row():
                        new_name = gr.Textbox(
                            value=name, label="New intent name", scale=2, interactive=True
                        )
                        new_btn = gr.Button("New intent from these", variant="primary")
                        target = gr.Dropdown(
                            choices=service.classifier.intents,
                            value=known,
                            label="or add them to",
                            interactive=True,
                            scale=2,
                        )
                        add_btn = gr.Button("Add to intent")
                private = {"api_visibility": "private"}
                for event in (
                    new_btn.click(
                        lambda n, t=texts: make_intent(t, n), new_name, [status, groups], **private
                    ),
                    add_btn.click(
                        lambda n, t=texts: add_to(t, n), target, [status, groups], **private
                    ),
                ):
                    if after_edit:
                        event.then(*after_edit[0], **private)

    def on_logging(enabled: bool) -> str:
        service.log.enabled = bool(enabled)
        return "Chat messages are logged for review." if enabled else "Logging is off."

    def on_clear():
        return f"Deleted {service.log.clear()} logged message(s).", []

    def on_refresh():
        found = current_groups()
        return f"{len(found)} group(s) of messages to review.", found

    private = {"api_visibility": "private"}
    logging.input(on_logging, logging, status, **private)
    clear.click(on_clear, None, [status, groups], **private)
    refresh.click(on_refresh, None, [status, groups], **private)
    return TabParts(
        lists=[(logging, lambda: gr.Checkbox(value=service.log.enabled))], opened=[tab.select]
    )
