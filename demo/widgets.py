"""Pieces every tab uses: messages as escaped Markdown, a confirmation panel, list refreshing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import gradio as gr

from .safe_text import as_text
from .service import EditResult, SaveFailed

#: What a handler catches and shows as a message; anything else is a bug and shows as such.
USER_ERRORS = (TypeError, ValueError, KeyError, SaveFailed)


def error_text(error: Exception) -> str:
    """An exception's message (``KeyError`` without its quotes), for the user."""
    return str(error.args[0] if isinstance(error, KeyError) and error.args else error)


def error_markdown(error: Exception | str) -> str:
    """``**Error:** <message>``, the message escaped."""
    message = error if isinstance(error, str) else error_text(error)
    return f"**Error:** {as_text(message)}"


def result_markdown(result: EditResult) -> str:
    """The summary, then one bullet per warning, all escaped; a preview says how to go on."""
    lines = [as_text(result.message)]
    lines += [f"- **Warning:** {as_text(warning)}" for warning in result.warnings]
    if result.needs_confirmation:
        lines.append("\nPress **Save anyway** to add it as it is, or change it first.")
    return "\n".join(lines)


def markdown(**kwargs) -> gr.Markdown:
    """A Markdown block that never treats ``$`` as maths (user text may hold prices)."""
    return gr.Markdown(latex_delimiters=[], **kwargs)


@dataclass
class ConfirmPanel:
    """A hidden question with a confirm and a cancel button, shown before a destructive step."""

    group: gr.Group
    question: gr.Markdown
    yes: gr.Button
    no: gr.Button

    def show(self, question: str) -> tuple[gr.Group, str]:
        """Updates for ``[group, question]`` that ask ``question`` (already Markdown)."""
        return gr.Group(visible=True), question

    def hide(self) -> tuple[gr.Group, str]:
        return gr.Group(visible=False), ""


def confirm_panel(name: str, yes_label: str) -> ConfirmPanel:
    """A panel ``#<name>-confirm`` with buttons ``#<name>-yes`` and ``#<name>-no``."""
    with gr.Group(visible=False, elem_id=f"{name}-confirm") as group:
        question = markdown()
        with gr.Row():
            yes = gr.Button(yes_label, variant="stop", elem_id=f"{name}-yes")
            no = gr.Button("Cancel", elem_id=f"{name}-no")
    return ConfirmPanel(group, question, yes, no)


@dataclass
class TabParts:
    """What a tab gives the page: lists to refresh after any change, and its edit events.

    Attributes:
        lists: ``(component, make_update)`` pairs; ``make_update()`` returns the fresh value.
        edits: Event listeners after which every list is refreshed.
        opened: Event triggers (e.g. ``tab.select``) that refresh every list too.
    """

    lists: list[tuple[gr.components.Component, Callable[[], object]]] = field(default_factory=list)
    edits: list[object] = field(default_factory=list)
    opened: list[object] = field(default_factory=list)
