"""intentmeta: teach a customer-service classifier a new intent from a handful of examples.

>>> from intentmeta import IntentClassifier
>>> clf = IntentClassifier.from_builtin("ecommerce")
>>> clf.classify("my package still hasn't arrived").intent
'track_order'
"""

from __future__ import annotations

from intentmeta.builtin import builtin_intents
from intentmeta.classifier import OUT_OF_SCOPE, IntentClassifier
from intentmeta.config import ClassifierConfig
from intentmeta.discovery import Discovery, DiscoveryConfig, Group
from intentmeta.editing import Adaptation
from intentmeta.encoder import EncoderConfig, SentenceEncoder
from intentmeta.heads import HeadConfig, MatchingHead, PrototypicalHead
from intentmeta.persistence import RegistryError, RegistrySaveError
from intentmeta.prediction import Prediction
from intentmeta.rejection_rule import RejectionRule
from intentmeta.report import Report, ReportConfig
from intentmeta.validation import MAX_INTENT_NAME_LENGTH, check_intent_name, normalise_intent_name

__version__ = "0.1.0"

__all__ = [
    "MAX_INTENT_NAME_LENGTH",
    "OUT_OF_SCOPE",
    "Adaptation",
    "ClassifierConfig",
    "Discovery",
    "DiscoveryConfig",
    "EncoderConfig",
    "Group",
    "HeadConfig",
    "IntentClassifier",
    "MatchingHead",
    "Prediction",
    "PrototypicalHead",
    "RegistryError",
    "RegistrySaveError",
    "RejectionRule",
    "Report",
    "ReportConfig",
    "SentenceEncoder",
    "builtin_intents",
    "check_intent_name",
    "normalise_intent_name",
]
