"""The Add intent and Manage intents tabs: preview before saving, confirm before deleting."""

from __future__ import annotations

import gradio as gr

from . import example_edits
from .safe_text import as_text
from .service import DemoService
from .widgets import (
    USER_ERRORS,
    TabParts,
    confirm_panel,
    error_markdown,
    markdown,
    result_markdown,
)

INTENT_HEADERS = ["intent", "examples", "first example"]


def build_add(service: DemoService) -> TabParts:
    """The Add intent tab: warnings come as a preview, saved only with "Save anyway"."""
    with gr.Tab("Add intent", elem_id="tab-add"):
        name = gr.Textbox(
            label="Intent name (what a person would call it; up to 64 characters)",
            placeholder="gift_card_balance",
            elem_id="add-name",
        )
        examples = gr.Textbox(
            label=f"Examples, one per line (3-10 work best, up to {service.limits.max_examples})",
            lines=6,
            placeholder="how much is on my gift card\ncheck my gift card balance",
            elem_id="add-examples",
        )
        add = gr.Button("Add intent", variant="primary", elem_id="add-button")
        status = markdown(elem_id="add-status")
        panel = confirm_panel("add", "Save anyway")

    def on_add(new_name: str, text: str, confirm: bool):
        try:
            result = service.add_intent(new_name, text, confirm=confirm)
        except USER_ERRORS as error:
            return error_markdown(error), gr.skip(), gr.skip(), *panel.hide()
        if result.needs_confirmation:
            return "", gr.skip(), gr.skip(), *panel.show(result_markdown(result))
        return result_markdown(result), "", "", *panel.hide()

    outputs = [status, name, examples, panel.group, panel.question]
    added = add.click(
        lambda n, t: on_add(n, t, False), [name, examples], outputs, api_visibility="private"
    )
    anyway = panel.yes.click(
        lambda n, t: on_add(n, t, True), [name, examples], outputs, api_visibility="private"
    )
    panel.no.click(panel.hide, None, [panel.group, panel.question], api_visibility="private")
    return TabParts(edits=[added, anyway])


def build_manage(service: DemoService) -> TabParts:
    """The Manage intents tab: nothing preselected; deleting names what is lost and asks."""
    with gr.Tab("Manage intents", elem_id="tab-manage") as tab:
        table = gr.Dataframe(
            value=service.intent_rows(),
            headers=INTENT_HEADERS,
            label="Intents",
            interactive=False,
            elem_id="intent-table",
            wrap=True,
        )
        pick = gr.Dropdown(
            label="Intent", choices=service.classifier.intents, value=None, elem_id="manage-pick"
        )
        shown = markdown(elem_id="manage-examples")
        more = gr.Textbox(label="More examples, one per line", lines=3, elem_id="more-examples")
        with gr.Row():
            add = gr.Button("Add examples", variant="primary", elem_id="more-button")
            rename_to = gr.Textbox(label="New name", scale=2, elem_id="rename-to")
            rename = gr.Button("Rename", elem_id="rename-button")
            delete = gr.Button("Delete intent…", variant="stop", elem_id="delete-button")
        status = markdown(elem_id="manage-status")
        more_panel = confirm_panel("more", "Save anyway")
        delete_panel = confirm_panel("delete", "Yes, delete it")

    def show_examples(name: str | None) -> str:
        if not name or name not in service.classifier:
            return ""
        return "\n".join(f"- {as_text(text)}" for text in service.classifier.examples(name))

    def on_add(name: str | None, text: str, confirm: bool):
        try:
            result = service.add_examples(name, text, confirm=confirm)
        except USER_ERRORS as error:
            return error_markdown(error), gr.skip(), show_examples(name), *more_panel.hide()
        if result.needs_confirmation:
            return "", gr.skip(), gr.skip(), *more_panel.show(result_markdown(result))
        return result_markdown(result), "", show_examples(name), *more_panel.hide()

    def on_ask_delete(name: str | None):
        if not name:
            return error_markdown("pick an intent to delete first"), *delete_panel.hide()
        try:
            question = service.removal_question(name)
        except USER_ERRORS as error:
            return error_markdown(error), *delete_panel.hide()
        return "", *delete_panel.show(as_text(question))

    def on_delete(name: str | None):
        try:
            result = service.remove_intent(name)
        except USER_ERRORS as error:
            return error_markdown(error), gr.skip(), gr.skip(), *delete_panel.hide()
        return result_markdown(result), None, "", *delete_panel.hide()

    def on_rename(old: str | None, new: str):
        if not old:
            return error_markdown("pick an intent to rename first"), gr.skip(), gr.skip()
        try:
            result = example_edits.rename_intent(service, old, new)
        except USER_ERRORS as error:
            return error_markdown(error), gr.skip(), gr.skip()
        return result_markdown(result), "", gr.Dropdown(value=new.strip())

    private = {"api_visibility": "private"}
    pick.change(show_examples, pick, shown, **private)
    more_outputs = [status, more, shown, more_panel.group, more_panel.question]
    added = add.click(lambda n, t: on_add(n, t, False), [pick, more], more_outputs, **private)
    anyway = more_panel.yes.click(
        lambda n, t: on_add(n, t, True), [pick, more], more_outputs, **private
    )
    more_panel.no.click(more_panel.hide, None, [more_panel.group, more_panel.question], **private)
    delete.click(
        on_ask_delete, pick, [status, delete_panel.group, delete_panel.question], **private
    )
    deleted = delete_panel.yes.click(
        on_delete, pick, [status, pick, shown, delete_panel.group, delete_panel.question], **private
    )
    delete_panel.no.click(
        delete_panel.hide, None, [delete_panel.group, delete_panel.question], **private
    )
    renamed = rename.click(on_rename, [pick, rename_to], [status, rename_to, pick], **private)
    return TabParts(
        lists=[
            (table, lambda: gr.Dataframe(value=service.intent_rows())),
            (pick, lambda: gr.Dropdown(choices=service.classifier.intents)),
        ],
        edits=[added, anyway, deleted, renamed],
        opened=[tab.select],
    )
