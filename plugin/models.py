"""Every table, imported once so `Base.metadata` is complete (Alembic, tests)."""

from plugin.features.accounts.models import ApiToken, InstanceSecret
from plugin.features.callbacks.models import PSACallbackEvent, PSATicketSnapshot
from plugin.features.fixes.models import SuggestedFix
from plugin.features.notes.models import NotePreview
from plugin.features.scripts.models import DraftTemplate, ScriptGeneration, ScriptTemplate
from plugin.features.sessions.models import Fact, Message
from plugin.features.writeback.models import Writeback
from plugin.kernel.ai_sessions import AISession
from plugin.kernel.db import Base
from plugin.kernel.llm import LLMCall
from plugin.kernel.secret_memory import SessionSecret
from plugin.kernel.tenancy import Account

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
    "SessionSecret",
    "SuggestedFix",
    "Writeback",
]
