"""The Test tab: upload labelled messages, see accuracy, per-intent figures and the confusions."""

from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr

from .safe_text import as_text
from .service import DemoService
from .test_run import read_labelled, run_test
from .widgets import USER_ERRORS, TabParts, error_markdown, markdown

PER_INTENT_HEADERS = ["intent", "precision", "recall", "F1", "messages"]
CONFUSION_HEADERS = ["expected", "answered", "times", "for example"]


def build(service: DemoService) -> TabParts:
    """The Test tab's components and events."""
    with gr.Tab("Test", elem_id="tab-test"):
        markdown(
            value="Upload a CSV of messages with the intent each should get (columns `text`, "
            "`intent`; `oos` for a message that fits none) to see how the current intents do."
        )
        with gr.Row():
            upload = gr.File(label="Labelled CSV", file_types=[".csv"], elem_id="test-file")
            run = gr.Button("Run the test", variant="primary", elem_id="test-button")
        summary = markdown(elem_id="test-summary")
        with gr.Row():
            matrix = gr.Image(
                label="Confusion matrix (rows expected, columns answered)",
                type="filepath",
                interactive=False,
                elem_id="test-matrix",
            )
            with gr.Column():
                per_intent = gr.Dataframe(
                    headers=PER_INTENT_HEADERS,
                    label="Per intent, worst F1 first",
                    interactive=False,
                    elem_id="test-table",
                )
                confusions = gr.Dataframe(
                    headers=CONFUSION_HEADERS,
                    label="Worst confusions",
                    interactive=False,
                    wrap=True,
                    elem_id="test-confusions",
                )

    def on_run(path: str | None):
        if not path:
            return error_markdown("choose a labelled CSV first"), None, None, None
        try:
            texts, expected = read_labelled(path)
            texts = [service.check_message(text) for text in texts]
            out_dir = Path(tempfile.mkdtemp(prefix="intentmeta-test-run-"))
            report = run_test(service.classifier, texts, expected, out_dir)
        except (RuntimeError, *USER_ERRORS) as error:
            return error_markdown(error), None, None, None
        return (
            as_text(report.summary()),
            str(report.matrix_png),
            report.per_intent,
            (report.confusions or [["", "", 0, "no confusion"]]),
        )

    run.click(
        on_run,
        upload,
        [summary, matrix, per_intent, confusions],
        api_visibility="private",
    )
    return TabParts()
