"""Out-of-scope rules shipped for the shipped encoders, by the encoder's registry name.

The rule's weights read cosines on a registry's own scale, but how that scale maps to "out of
scope" still depends on the encoder, so each shipped encoder has a rule fitted for it on
validation episodes (``training/fit_rejection_rule.py``). The off-the-shelf all-MiniLM-L6-v2's is
``RejectionRule()``'s defaults; :meth:`intentmeta.rejection_rule.RejectionRule.for_encoder` picks
from here and falls back to it for any other encoder.

The meta-learned encoder (:data:`~intentmeta.shipped_encoders.META_LEARNED`) trained on the train
splits of BANKING77 and CLINC150, so its own embeddings of their validation rows are not those of
a user's new intents. Its rule is fitted, with the off-the-shelf rule's protocol (seeds, prior,
ratios, shots), on the embeddings of the same recipe trained on the *other* data set: BANKING77
embedded by the CLINC150-trained encoder and CLINC150 by the BANKING77-trained one
(``provenance["embedded_by"]``).
"""

from __future__ import annotations

from typing import Any

from intentmeta.shipped_encoders import META_LEARNED, shipped_encoder

#: Rule state (:meth:`RejectionRule.state`) per encoder name, beside the off-the-shelf default.
SHIPPED_RULES: dict[str, dict[str, Any]] = {
    META_LEARNED: {
        "oos_weights": [-1.0332, -0.88, 2.0435, 0.5091, -0.7254, 0.5263],
        "intent_weights": [2.7744, 0.4389, 0.6799, -0.9913],
        "nearest_weights": [0.271, -0.6913],
        "nearest_offset": 0.1069,
        "shrinkage": 3.0,
        "fallback_pairwise": 0.5101,
        "fallback_spread": 0.234,
        "provenance": {
            "encoder": META_LEARNED,
            "head": "prototypical",
            "data": ["banking77", "clinc150"],
            "split": "val (CLINC150 val + oos_val; BANKING77 30% of train held out)",
            "embedded_by": {
                "banking77": "the meta-learned recipe trained on CLINC150 train only",
                "clinc150": "the meta-learned recipe trained on BANKING77 train only",
            },
            "known_ratios": [0.25, 0.5, 0.75, 1.0],
            "shots": [3, 20],
            "spread": [0.1452, 0.3199],
            "out_of_scope_prior": 0.4,
            "episodes": 84,
            "messages": 253236,
            "date": "2026-11-29",
        },
    },
}


def shipped_rule_state(encoder: str) -> dict[str, Any] | None:
    """A copy of the rule state shipped for ``encoder`` (a name or alias of a shipped encoder),
    else ``None``.

    >>> shipped_rule_state("minilm-intents-v1")["provenance"]["encoder"]
    'intentmeta/minilm-intents-v1'
    >>> shipped_rule_state("sentence-transformers/all-MiniLM-L6-v2") is None
    True
    """
    import copy

    shipped = shipped_encoder(encoder) if encoder else None
    state = SHIPPED_RULES.get(shipped.name) if shipped is not None else None
    return copy.deepcopy(state) if state is not None else None
