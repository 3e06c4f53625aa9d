"""The Chat tab: a message gets its intent, the evidence behind it, and a way to correct it."""

from __future__ import annotations

import gradio as gr

from intentmeta import OUT_OF_SCOPE, Prediction

from .safe_text import as_text
from .service import DemoService, percent
from .widgets import USER_ERRORS, TabParts, error_markdown, error_text, markdown

EVIDENCE_HEADERS = ["intent", "example", "similarity"]  # cosine similarity to the message
OUT_OF_SCOPE_LABEL = "out of scope"


def reply_markdown(prediction: Prediction) -> str:
    """The assistant's chat reply for one prediction (intent names escaped)."""
    if prediction.is_out_of_scope:
        guess = prediction.best_intent
        hint = (
            f" The closest intent is **{as_text(guess)}**, but it is not close enough."
            if guess
            else ""
        )
        return f"**Out of scope**: this fits none of my intents.{hint}"
    return f"**{as_text(prediction.intent)}** (confidence {percent(prediction.confidence)})"


def label_value(prediction: Prediction) -> dict[str, float]:
    """The answers for ``gr.Label``: "out of scope" among them when the classifier says so."""
    # "oos" is the library's key for out of scope (no intent may have that name).
    scores = {
        OUT_OF_SCOPE_LABEL if name == OUT_OF_SCOPE else name: p
        for name, p in prediction.scores.items()
    }
    if prediction.is_out_of_scope and OUT_OF_SCOPE_LABEL not in scores:
        scores = {OUT_OF_SCOPE_LABEL: prediction.confidence, **scores}
    return scores


def build(service: DemoService) -> TabParts:
    """The Chat tab's components and events."""
    with gr.Tab("Chat", elem_id="tab-chat"), gr.Row():
        last_message = gr.State(None)  # per browser tab: the message a correction applies to
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(
                label="Customer chat", height=430, elem_id="chat", latex_delimiters=[]
            )
            with gr.Row():
                message = gr.Textbox(
                    placeholder="Type a customer message and press Enter",
                    show_label=False,
                    scale=5,
                    elem_id="chat-input",
                )
                send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
            chat_status = markdown(elem_id="chat-status")
            with gr.Accordion("Wrong? Correct the last prediction", open=False):
                correct_to = gr.Dropdown(
                    label="The right intent (pick one, or type a new name)",
                    choices=service.classifier.intents,
                    value=None,
                    allow_custom_value=True,
                    elem_id="correct-to",
                )
                correct_btn = gr.Button(
                    "Add the last message as its example", elem_id="correct-button"
                )
                correct_status = markdown(elem_id="correct-status")
        with gr.Column(scale=2):
            top = gr.Label(label="Answer and its probability", num_top_classes=5, elem_id="top")
            nearest = gr.Dataframe(
                headers=EVIDENCE_HEADERS,
                label="Evidence: the answer's closest examples, then the closest other one",
                interactive=False,
                wrap=True,
                column_widths=["34%", "51%", "15%"],
                elem_id="nearest",
            )

    def on_chat(text: str, chat_history: list, last: str | None):
        chat_history = list(chat_history or [])
        if not isinstance(text, str) or not text.strip():
            return text, chat_history, gr.skip(), gr.skip(), last, "Type a message first."
        try:
            clean = service.check_message(text)
        except USER_ERRORS as error:
            return (
                text,
                chat_history,
                gr.skip(),
                gr.skip(),
                last,
                error_markdown(f"Not sent: {error_text(error)}. Shorten it and send again."),
            )
        try:
            prediction = service.classify(clean)
            evidence = service.evidence(clean, prediction.best_intent)
        except (RuntimeError, *USER_ERRORS) as error:
            return text, chat_history, None, [], last, error_markdown(error)
        service.log.append(clean, prediction)
        chat_history.append({"role": "user", "content": as_text(clean)})
        chat_history.append({"role": "assistant", "content": reply_markdown(prediction)})
        rows = [[name, example, round(score, 2)] for name, example, score in evidence]
        return "", chat_history, label_value(prediction), rows, clean, ""

    def on_correct(intent: str | None, last: str | None):
        if not last:
            return error_markdown("send a message in the chat first")
        try:
            result = service.correct(last, intent)
        except USER_ERRORS as error:
            return error_markdown(error)
        return as_text(result.message)

    chat_io = {
        "fn": on_chat,
        "inputs": [message, chatbot, last_message],
        "outputs": [message, chatbot, top, nearest, last_message, chat_status],
        "api_visibility": "private",
    }
    message.submit(**chat_io)
    send.click(**chat_io)
    corrected = correct_btn.click(
        on_correct, [correct_to, last_message], correct_status, api_visibility="private"
    )
    return TabParts(
        lists=[(correct_to, lambda: gr.Dropdown(choices=service.classifier.intents, value=None))],
        edits=[corrected],
    )
