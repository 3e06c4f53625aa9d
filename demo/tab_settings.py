"""The Settings tab: the served registry's settings, explained; restore the built-in intents."""

from __future__ import annotations

import statistics

import gradio as gr

from intentmeta import IntentClassifier
from intentmeta.builtin import builtin_intents

from .adapters import effective_thresholds
from .safe_text import as_text
from .service import DemoService, EditResult
from .widgets import (
    USER_ERRORS,
    TabParts,
    confirm_panel,
    error_markdown,
    markdown,
    result_markdown,
)

HEADS = {
    "prototypical": "each intent is the mean of its examples: steady with 3-10 examples (default)",
    "matching": "each message is compared with every example: better when an intent has several "
    "unlike phrasings",
}
THRESHOLD_MODES = {
    "auto": "each intent gets its own threshold from how alike its examples are",
    "fixed": "one cosine similarity for every intent (set below)",
    "off": "never answer out of scope: every message gets the closest intent",
}


#: The share slider's value when the classifier's share is unknown (calibrated on labels).
DEFAULT_SHARE = 0.4


def settings_view(service: DemoService) -> tuple[str, str, float, str, float]:
    """The form's values for the served registry: head, mode, fixed value, explanation, and
    the out-of-scope share of traffic the automatic threshold is set for."""
    head, mode, value = form_choices(service)
    return head, mode, value, explain(service), shown_share(service)


def form_choices(service: DemoService) -> tuple[str, str, float]:
    """Head, threshold mode and fixed value of the served registry (cheap: no explanation)."""
    config = service.classifier.config
    threshold = config.oos_threshold
    fixed = isinstance(threshold, (int, float))
    mode = "fixed" if fixed else "off" if threshold is None else "auto"
    return config.head, mode, float(threshold) if fixed else 0.5


def shown_share(service: DemoService) -> float:
    """The share slider's value: the share the automatic threshold is set for, or
    :data:`DEFAULT_SHARE` after a calibration on labelled traffic."""
    share = service.classifier.oos.expected_share
    return DEFAULT_SHARE if share is None else round(share, 2)


def explain(service: DemoService) -> str:
    """One line per setting saying what the served registry does now."""
    config = service.classifier.config
    lines = [f"- **Head:** {config.head}: {HEADS.get(config.head, '')}."]
    threshold = config.oos_threshold
    if threshold == "auto":
        values = list(effective_thresholds(service.classifier).values())
        if values:
            lines.append(
                f"- **Out of scope:** auto — works out to a cosine threshold of {min(values):.2f} "
                f"to {max(values):.2f} across the {len(values)} intents (median "
                f"{statistics.median(values):.2f}); a message less similar to its best intent "
                f"is answered *out of scope*. {share_sentence(service.classifier)}"
            )
        else:
            lines.append("- **Out of scope:** auto — no intents yet.")
    elif threshold is None:
        lines.append(f"- **Out of scope:** off — {THRESHOLD_MODES['off']}.")
    else:
        lines.append(
            f"- **Out of scope:** fixed at cosine {float(threshold):.2f} for every intent."
        )
    return "\n".join(lines)


def share_sentence(clf: IntentClassifier) -> str:
    """What share of out-of-scope traffic the automatic threshold is set for, in words."""
    share = clf.oos.expected_share
    if share is not None:
        return f"Set for traffic about {share:.0%} out of scope."
    if clf.oos.adjustment[0] != 1.0:
        return "Tuned on labelled traffic (`intentmeta calibrate`)."
    return ""  # a rule that records no share (set by hand)


def apply_settings(
    service: DemoService, head: str, threshold: float | str | None, share: float | None = None
) -> EditResult:
    """Serve the same intents with another head, out-of-scope threshold or, for the automatic
    threshold, expected out-of-scope share of traffic (saved, undoable). Without a share, the
    current tuning (a share, or a calibration on labelled traffic) is kept."""
    if head not in HEADS:
        raise ValueError(f"the head must be one of {sorted(HEADS)}, not {head!r}")
    if isinstance(threshold, (int, float)) and not -1.0 <= threshold <= 1.0:
        raise ValueError(f"the threshold must be between -1 and 1, not {threshold}")
    if share is not None and not 0.0 < share < 1.0:
        raise ValueError(f"the out-of-scope share must be between 0 and 1 (exclusive), not {share}")

    def rebuild(old: IntentClassifier) -> IntentClassifier:
        new = IntentClassifier(
            encoder=old.encoder,
            head=head,
            oos_threshold=threshold,
            top_k=old.config.top_k,
        )
        names = old.intents
        texts = [text for name in names for text in old.examples(name)]
        if texts:
            new.fit(texts, [name for name in names for _ in old.examples(name)])
        if threshold == "auto" and share is not None and len(new):
            new.calibrate(out_of_scope_share=share)
        elif threshold == "auto" and old.config.oos_threshold == "auto":
            new.oos.adjustment = old.oos.adjustment  # a head change keeps the tuning
        return new

    shared = "" if share is None or threshold != "auto" else f", out-of-scope share {share:g}"
    service.replace_classifier(f"settings: {head} head, threshold {threshold}{shared}", rebuild)
    shown = "off" if threshold is None else threshold
    tuned = f". {share_sentence(service.classifier)}" if threshold == "auto" else ""
    return EditResult(f"now using the {head} head, out-of-scope threshold {shown}{tuned}")


def restore_question(service: DemoService) -> str:
    """What restoring the built-in intents loses, as a question."""
    builtin = builtin_intents("ecommerce")
    custom = [name for name in service.classifier.intents if name not in builtin]
    lost = ", ".join(f"{name!r}" for name in custom[:10]) + (" …" if len(custom) > 10 else "")
    return (
        f"Replace all {len(service.classifier)} intents with the {len(builtin)} built-in ones? "
        + (f"Lost: {len(custom)} custom intent(s) ({lost}), " if custom else "Lost: ")
        + "and every example added to the built-in intents. Undo last change brings them back."
    )


def restore_builtin(service: DemoService) -> EditResult:
    """Replace every intent with the built-in e-commerce set, keeping the settings."""

    def rebuild(old: IntentClassifier) -> IntentClassifier:
        config = old.config
        return IntentClassifier.from_builtin(
            "ecommerce",
            encoder=old.encoder,
            head=config.head,
            head_weights=config.head_weights,
            oos_threshold=config.oos_threshold,
            top_k=config.top_k,
        )

    service.replace_classifier("restored the built-in intents", rebuild)
    return EditResult(f"restored the {len(service.classifier)} built-in e-commerce intents")


def build(service: DemoService) -> TabParts:
    """The Settings tab's components and events."""
    with gr.Tab("Settings", elem_id="tab-settings") as tab:
        head = gr.Radio(
            list(HEADS),
            label="Few-shot head",
            elem_id="settings-head",
            info="; ".join(f"{k}: {v}" for k, v in HEADS.items()),
        )
        mode = gr.Radio(
            list(THRESHOLD_MODES),
            label="Out-of-scope threshold",
            elem_id="settings-mode",
            info="; ".join(f"{k}: {v}" for k, v in THRESHOLD_MODES.items()),
        )
        value = gr.Slider(
            -1.0,
            1.0,
            step=0.01,
            label="Fixed threshold (cosine similarity)",
            info="used when the threshold is fixed; higher rejects more",
            elem_id="settings-value",
        )
        share = gr.Slider(
            0.05,
            0.95,
            step=0.01,
            label="Expected share of out-of-scope messages",
            info="with the auto threshold: the share of your traffic that fits no intent; "
            "higher rejects more",
            elem_id="settings-share",
        )
        explanation = markdown(elem_id="settings-explain")
        apply = gr.Button("Apply settings", variant="primary", elem_id="settings-apply")
        status = markdown(elem_id="settings-status")
        restore = gr.Button("Restore the built-in e-commerce intents…", elem_id="restore-button")
        panel = confirm_panel("restore", "Yes, replace them")

    def on_apply(new_head: str, new_mode: str, fixed: float, new_share: float):
        threshold = {"auto": "auto", "off": None}.get(new_mode, float(fixed))
        current = shown_share(service)
        # Only a moved slider re-tunes: a calibration on labelled traffic is kept otherwise.
        moved = None if abs(float(new_share) - current) < 1e-9 else float(new_share)
        try:
            return result_markdown(apply_settings(service, new_head, threshold, moved))
        except (OSError, *USER_ERRORS) as error:
            return error_markdown(error)

    def on_restore():
        try:
            return result_markdown(restore_builtin(service)), *panel.hide()
        except USER_ERRORS as error:
            return error_markdown(error), *panel.hide()

    private = {"api_visibility": "private"}
    applied = apply.click(on_apply, [head, mode, value, share], status, **private)
    restore.click(
        lambda: panel.show(as_text(restore_question(service))),
        None,
        [panel.group, panel.question],
        **private,
    )
    restored = panel.yes.click(on_restore, None, [status, panel.group, panel.question], **private)
    panel.no.click(panel.hide, None, [panel.group, panel.question], **private)
    return TabParts(
        lists=[
            # One explanation per refresh: it bisects every intent's effective threshold.
            (head, lambda: form_choices(service)[0]),
            (mode, lambda: form_choices(service)[1]),
            (value, lambda: form_choices(service)[2]),
            (explanation, lambda: explain(service)),
            (share, lambda: shown_share(service)),
        ],
        edits=[applied, restored],
        opened=[tab.select],
    )
