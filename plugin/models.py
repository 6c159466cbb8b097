"""Every table, imported once so `Base.metadata` is complete (Alembic, tests)."""

from plugin.features.accounts.models import ApiToken, InstanceSecret
from plugin.features.callbacks.models import PSACallbackEvent, PSATicketSnapshot
from plugin.features.checks.models import DiagnosticCheck
from plugin.features.fixes.models import SuggestedFix
from plugin.features.notes.kb_article import KBArticle
from plugin.features.notes.models import NotePreview
from plugin.features.pod.models import SignInFailure
from plugin.features.scripts.models import DraftTemplate, ScriptGeneration, ScriptTemplate
from plugin.features.search.models import (
    NOT_IN_MODELS,
    HistoryImport,
    QueryExpansion,
    ResolvedWork,
    ResolvedWorkVersion,
)
from plugin.features.sessions.models import Fact, Message
from plugin.features.writeback.models import Writeback
from plugin.kernel.ai_sessions import AISession
from plugin.kernel.db import Base
from plugin.kernel.llm import LLMCall
from plugin.kernel.secret_memory import SessionSecret
from plugin.kernel.tenancy import Account


def compared_with_models(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic's `include_name`: the search index's backend-specific structures (an FTS5
    table, a tsvector column) are the search migration's, not the models'."""
    return name not in NOT_IN_MODELS


__all__ = [
    "AISession",
    "Account",
    "ApiToken",
    "Base",
    "DiagnosticCheck",
    "DraftTemplate",
    "Fact",
    "HistoryImport",
    "InstanceSecret",
    "KBArticle",
    "LLMCall",
    "Message",
    "NotePreview",
    "PSACallbackEvent",
    "PSATicketSnapshot",
    "QueryExpansion",
    "ResolvedWork",
    "ResolvedWorkVersion",
    "ScriptGeneration",
    "SignInFailure",
    "ScriptTemplate",
    "SessionSecret",
    "SuggestedFix",
    "Writeback",
    "compared_with_models",
]
