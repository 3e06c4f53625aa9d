"""The settings of the few-shot heads, one typed dataclass shared by every head."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class HeadConfig:
    """Settings shared by the few-shot heads.

    The defaults are the plain, parameter-free heads of the papers (what the evaluation reports
    as "prototypical" and "matching"). ``IntentClassifier`` uses the settings chosen on
    validation splits instead: :func:`intentmeta.config.default_head_config` (temperature 0.1,
    and prototype adaptation with nearest-example mixing, or whitening for matching). Each
    optional step reads its fields into a small config of its own (``AdaptationConfig.of``,
    ``NearestExampleConfig.of``, ``WhiteningConfig.of``, ``FullContextConfig.of``).

    Attributes:
        dim: Embedding size of the encoder the head sits on.
        metric: ``"cosine"`` or ``"euclidean"`` (negative squared distance).
        temperature: Logits are similarities divided by this; meta-training learns it.
        projection: Add a learnable linear map of the embeddings, initialised to the identity
            (what meta-training adapts; off means a parameter-free head).
        context_steps: Matching Networks only: processing steps of the full-context query
            embedding (``heads/full_context.py``; 0 turns it off).
        adapt_steps: Prototypical only: gradient steps that fit a linear classifier,
            initialised from the prototypes, to the whole support set whenever it is processed
            at once (``fit``, ``load``, ``adapt``; ``heads/adaptation.py``); 0 keeps plain
            prototypes.
        adapt_lr: Adam learning rate of that adaptation.
        adapt_regularisation: Pull of the adapted weights toward the prototypes.
        nearest_weight: Prototypical only: share of the score taken from the class's nearest
            example (cosine) instead of its (adapted) prototype (``heads/nearest.py``); 0
            scores prototypes alone.
        whitening: Matching only: shrinkage of a support-set whitening (centre, then multiply by
            the inverse square root of the within-class covariance shrunk toward isotropy) that
            is fitted whenever the whole support set is processed (``heads/whitening.py``);
            ``None`` turns it off.
        adapt_max_work: Multiply-adds one adaptation may spend (steps x examples x classes x
            dim x 3); a larger support set is adapted in blocks of neighbouring classes, each
            within this budget, so the fit's cost grows linearly with the number of intents.
            ``None``: one block at any size (cost growing with the square of the registry).
    """

    dim: int = 384  # all-MiniLM-L6-v2
    metric: str = "cosine"  # cosine beats Euclidean on normalised sentence embeddings
    temperature: float = 0.05  # plain heads; IntentClassifier uses 0.1 (default_head_config)
    projection: bool = False  # parameter-free until meta-training says otherwise
    context_steps: int = 0  # full-context embeddings off unless trained
    adapt_steps: int = 0  # plain prototypes; IntentClassifier turns adaptation on
    adapt_lr: float = 0.005  # chosen on BANKING77/CLINC150 validation splits
    adapt_regularisation: float = 0.1  # keeps few-shot weights near the prototypes
    nearest_weight: float = 0.0  # plain prototypes; IntentClassifier mixes in 0.1
    whitening: float | None = None  # off; IntentClassifier(head="matching") uses 0.7
    adapt_max_work: float | None = 6e10  # ~2.5 s on 2 cores: CLINC150's 150 x 20 is one block
