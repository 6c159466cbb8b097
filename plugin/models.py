"""Every table, imported once so `Base.metadata` is complete (Alembic, tests)."""

from plugin.accounts.models import Account, ApiToken, InstanceSecret
from plugin.callbacks.models import PSACallbackEvent, PSATicketSnapshot
from plugin.db import Base
from plugin.fixes.models import SuggestedFix
from plugin.llm.models import LLMCall
from plugin.notes.models import NotePreview
from plugin.scripts.models import DraftTemplate, ScriptGeneration, ScriptTemplate
from plugin.sessions.models import AISession, Fact, Message
from plugin.writeback.models import Writeback

__all__ = [
    "AISession",
    "Account",
    "ApiToken",
    "Base",
    "DraftTemplate",
    "Fact",
    "InstanceSecret",
    "LLMCall",
    "Message",
    "NotePreview",
    "PSACallbackEvent",
    "PSATicketSnapshot",
    "ScriptGeneration",
    "ScriptTemplate",
    "SuggestedFix",
    "Writeback",
]
