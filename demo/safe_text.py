"""User text shown as text: never as HTML or Markdown, wherever the page renders Markdown.

Intent names, examples and chat messages are typed by users (or planted through the API), and
Gradio's Markdown and Chatbot components render Markdown with inline HTML. Every such string goes
through :func:`as_text` before it reaches one of them; tables, labels and dropdowns show plain text.
"""

from __future__ import annotations

import re

#: ASCII punctuation with a meaning in Markdown (CommonMark lets a backslash escape any of it).
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$:])")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}


def as_text(value: object) -> str:
    """``value`` escaped so that Markdown with inline HTML shows it literally.

    >>> as_text("<b>hi</b>")
    '&lt;b&gt;hi&lt;/b&gt;'
    """
    text = _MARKDOWN.sub(r"\\\1", str(value))
    return "".join(_HTML.get(char, char) for char in text)


def quoted(value: object) -> str:
    """``value`` in single quotes, escaped: for names and examples inside a message."""
    return f"'{as_text(value)}'"
