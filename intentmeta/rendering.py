"""Text and HTML renderings of a :class:`~intentmeta.report.Report` and a
:class:`~intentmeta.discovery.Discovery`.

Every user string (intent names, examples, messages) is HTML-escaped; the similarity heatmap is
an inline PNG drawn with matplotlib (the optional ``intentmeta[eval]`` extra), imported only when
an HTML report is asked for.
"""

from __future__ import annotations

import base64
import io
from html import escape

_STYLE = (
    "body{font-family:sans-serif;max-width:70em;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .5em;"
    "text-align:left;vertical-align:top}th{background:#f3f3f3}.warn{color:#a40}"
)


def _number(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _page(title: str, body: list[str]) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
        f"</title><style>{_STYLE}</style></head><body>\n<h1>{escape(title)}</h1>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _table(header: list[str], rows: list[list[str]]) -> str:
    """An HTML table; cells must already be escaped."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


# ------------------------------------------------------------------------------------ report
def report_text(report) -> str:
    """The report as plain text, most urgent findings first."""
    lines = [f"intentmeta report: {len(report.intents)} intents"]
    lines.append(f"\nSuspect examples ({len(report.suspects)}): closer to another intent")
    for s in report.suspects:
        lines.append(f"  [{s.intent}] {s.example!r} -> {s.better_intent} (margin {s.margin:+.2f})")
        lines.append(f"      {s.action}")
    lines.append(f"\nMost confusable intents (prototype cosine, top {len(report.confusable)})")
    for p in report.confusable:
        lines.append(f"  {p.similarity:.2f}  {p.intent} ~ {p.other}")
    lines.append(
        f"\nNear-duplicate examples under different intents ({len(report.near_duplicates)})"
    )
    for d in report.near_duplicates:
        lines.append(
            f"  {d.similarity:.2f}  [{d.intent}] {d.example!r} ~ [{d.other}] {d.other_example!r}"
        )
    lines.append("\nPer intent: examples, leave-one-out accuracy, nearest other intent")
    for f in report.intents:
        warn = "  (too few examples)" if f.too_few_examples else ""
        lines.append(
            f"  {f.intent}: {f.n_examples} examples, LOO accuracy {_number(f.loo_accuracy)}, "
            f"nearest {f.nearest_intent or '–'} ({_number(f.nearest_similarity)}){warn}"
        )
    return "\n".join(lines)


def heatmap_png(report) -> bytes:
    """The intent-by-intent prototype similarity as a PNG image.

    Raises:
        ImportError: Without matplotlib (``pip install intentmeta[eval]``).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    names = report.names
    size = min(14.0, 3.0 + 0.12 * len(names))
    figure, axes = plt.subplots(figsize=(size + 1.5, size))
    image = axes.imshow(report.similarity.numpy(), cmap="viridis", vmin=-0.2, vmax=1.0)
    if len(names) <= 60:  # beyond that the labels overlap
        axes.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
        axes.set_yticks(range(len(names)), names, fontsize=7)
    axes.set_title("prototype cosine similarity between intents")
    figure.colorbar(image, ax=axes, fraction=0.046)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return buffer.getvalue()


def report_html(report) -> str:
    """The report as one standalone HTML page with the heatmap inlined."""
    body = [f"<p>{len(report.intents)} intents.</p>"]
    try:
        png = base64.b64encode(heatmap_png(report)).decode() if report.intents else ""
        if png:
            body.append(f'<img alt="intent similarity heatmap" src="data:image/png;base64,{png}">')
    except ImportError:
        body.append("<p>Install matplotlib (<code>intentmeta[eval]</code>) for the heatmap.</p>")
    body.append(f"<h2>Suspect examples ({len(report.suspects)})</h2>")
    body.append(
        _table(
            ["intent", "example", "fits better", "margin", "suggested action"],
            [
                [
                    escape(s.intent),
                    escape(s.example),
                    escape(s.better_intent),
                    f"{s.margin:+.2f}",
                    escape(s.action),
                ]
                for s in report.suspects
            ],
        )
    )
    body.append("<h2>Most confusable intents</h2>")
    body.append(
        _table(
            ["intent", "intent", "similarity", "suggested action"],
            [
                [escape(p.intent), escape(p.other), f"{p.similarity:.2f}", escape(p.action)]
                for p in report.confusable
            ],
        )
    )
    body.append(f"<h2>Near-duplicate examples ({len(report.near_duplicates)})</h2>")
    body.append(
        _table(
            ["intent", "example", "intent", "example", "similarity"],
            [
                [
                    escape(d.intent),
                    escape(d.example),
                    escape(d.other),
                    escape(d.other_example),
                    f"{d.similarity:.2f}",
                ]
                for d in report.near_duplicates
            ],
        )
    )
    body.append("<h2>Intents</h2>")
    body.append(
        _table(
            ["intent", "examples", "LOO accuracy", "nearest intent", "similarity"],
            [
                [
                    escape(f.intent),
                    f'<span class="warn">{f.n_examples} (too few)</span>'
                    if f.too_few_examples
                    else str(f.n_examples),
                    _number(f.loo_accuracy),
                    escape(f.nearest_intent or "–"),
                    _number(f.nearest_similarity),
                ]
                for f in report.intents
            ],
        )
    )
    return _page("intentmeta report", body)


# ------------------------------------------------------------------------------------ discovery
def discovery_text(discovery) -> str:
    """The suggested groups as plain text, largest first."""
    known = sum(isinstance(label, str) for label in discovery.labels)
    lines = [
        f"{len(discovery.texts)} messages: {known} fit known intents, "
        f"{len(discovery.texts) - known} in {len(discovery.groups)} suggested new intents"
    ]
    for g in discovery.groups:
        lines.append(f"\n#{g.id} {g.name} ({g.size} messages; {', '.join(g.keywords)})")
        lines.extend(f"  - {text}" for text in g.representative)
    return "\n".join(lines)


def discovery_html(discovery) -> str:
    """The suggested groups as one standalone HTML page."""
    known = sum(isinstance(label, str) for label in discovery.labels)
    body = [
        f"<p>{len(discovery.texts)} messages: {known} fit known intents, "
        f"{len(discovery.texts) - known} fall in {len(discovery.groups)} suggested new "
        "intents.</p>",
        _table(
            ["id", "suggested name", "size", "keywords", "representative messages"],
            [
                [
                    str(g.id),
                    escape(g.name),
                    str(g.size),
                    escape(", ".join(g.keywords)),
                    "<ul>" + "".join(f"<li>{escape(t)}</li>" for t in g.representative) + "</ul>",
                ]
                for g in discovery.groups
            ],
        ),
    ]
    return _page("intentmeta: suggested new intents", body)
