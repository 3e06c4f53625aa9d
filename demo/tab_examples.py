"""The Examples tab: every example searchable; edit, move or delete one; import and export."""

from __future__ import annotations

import gradio as gr

from . import example_edits
from .service import DemoService
from .widgets import USER_ERRORS, TabParts, error_markdown, markdown, result_markdown

EXAMPLE_HEADERS = ["intent", "example"]


def build(service: DemoService) -> TabParts:
    """The Examples tab's components and events."""
    with gr.Tab("Examples", elem_id="tab-examples") as tab:
        chosen = gr.State(None)  # per browser tab: (intent, example) of the row clicked
        search = gr.Textbox(
            label="Search examples and intent names", elem_id="example-search", max_lines=1
        )
        table = gr.Dataframe(
            value=example_edits.example_rows(service),
            headers=EXAMPLE_HEADERS,
            label=f"Examples (click one to edit it; at most {example_edits.MAX_ROWS_SHOWN} shown)",
            interactive=False,
            wrap=True,
            max_height=360,
            elem_id="example-table",
        )
        with gr.Row():
            intent = gr.Dropdown(
                label="Intent (choose another to move the example)",
                choices=service.classifier.intents,
                value=None,
                elem_id="example-intent",
                scale=1,
            )
            text = gr.Textbox(label="Example", elem_id="example-text", scale=3)
        with gr.Row():
            save = gr.Button("Save this example", variant="primary", elem_id="example-save")
            delete = gr.Button("Delete this example", variant="stop", elem_id="example-delete")
        status = markdown(elem_id="example-status")
        with gr.Accordion("Import or export (CSV: intent,example per row; or JSON)", open=True):
            with gr.Row():
                upload = gr.File(
                    label="Add intents and examples from a file",
                    file_types=[".csv", ".json"],
                    elem_id="import-file",
                )
                with gr.Column():
                    import_btn = gr.Button("Import", elem_id="import-button")
                    import_status = markdown(elem_id="import-status")
            with gr.Row():
                fmt = gr.Radio(
                    ["csv", "json"], value="csv", label="Format", elem_id="export-format"
                )
                export_btn = gr.Button("Export every intent", elem_id="export-button")
                download = gr.File(label="Download", interactive=False, elem_id="export-file")

    def on_select(event: gr.SelectData):
        row = getattr(event, "row_value", None)
        if not row or len(row) < 2:
            return None, gr.skip(), gr.skip()
        return (row[0], row[1]), gr.Dropdown(value=row[0]), row[1]

    def on_save(picked, new_intent: str | None, new_text: str):
        if not picked:
            return error_markdown("click an example in the table first"), gr.skip()
        try:
            result = example_edits.edit_example(service, picked[0], picked[1], new_text, new_intent)
        except USER_ERRORS as error:
            return error_markdown(error), gr.skip()
        return result_markdown(result), (new_intent or picked[0], new_text.strip())

    def on_delete(picked):
        if not picked:
            return error_markdown("click an example in the table first"), gr.skip(), gr.skip()
        try:
            result = example_edits.delete_example(service, *picked)
        except USER_ERRORS as error:
            return error_markdown(error), gr.skip(), gr.skip()
        return result_markdown(result), None, ""

    def on_import(path: str | None):
        try:
            return result_markdown(example_edits.import_file(service, path))
        except USER_ERRORS as error:
            return error_markdown(error)

    def rows(query: str):
        return example_edits.example_rows(service, query)

    private = {"api_visibility": "private"}
    search.change(rows, search, table, **private)
    tab.select(rows, search, table, **private)
    table.select(on_select, None, [chosen, intent, text], **private)
    saved = save.click(on_save, [chosen, intent, text], [status, chosen], **private)
    deleted = delete.click(on_delete, chosen, [status, chosen, text], **private)
    imported = import_btn.click(on_import, upload, import_status, **private)
    for event in (saved, deleted, imported):
        event.then(rows, search, table, **private)
    export_btn.click(lambda f: str(example_edits.export_file(service, f)), fmt, download, **private)
    return TabParts(
        lists=[(intent, lambda: gr.Dropdown(choices=service.classifier.intents))],
        edits=[saved, deleted, imported],
        opened=[tab.select],
    )
