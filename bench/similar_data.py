"""The similar-tickets evaluation set (tests/data/similar/) as index documents, the large
synthetic indexes made by perturbing it, and a fake LLM that expands queries from a fixed
thesaurus (what an LLM would add: engineers' words for users' words)."""

from __future__ import annotations

import json
import random
import re
from datetime import timedelta
from pathlib import Path

from plugin.features.search.documents import WorkDocument
from plugin.kernel.db import utcnow
from plugin.kernel.states import WorkOutcome, WorkSource
from providers.llm.base import LLMRequest, LLMResult, Usage

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "similar"


def load_set() -> tuple[list[dict], list[dict]]:
    def read(name: str) -> list[dict]:
        return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line]

    return read("tickets.jsonl"), read("queries.jsonl")


def document(ticket: dict, ticket_id: int | None = None) -> WorkDocument:
    """A ticket as the index stores it: the searchable fields only (never its family)."""
    ticket_id = ticket_id or ticket["id"]
    return WorkDocument(
        doc_key=f"ticket:{ticket_id}",
        source=WorkSource.HISTORY,
        summary=ticket["summary"],
        outcome=WorkOutcome(ticket["status"]),
        closed_at=utcnow() - timedelta(days=ticket["closed_days_ago"]),
        psa_ticket_id=ticket_id,
        problem=ticket["description"],
        facts=list(ticket["facts"]),
        fixes=[
            {"title": f["title"], "status": f["outcome"], "notes": f.get("notes", "")}
            for f in ticket["fixes"]
        ],
        root_cause=ticket["root_cause"],
        resolution=ticket["resolution"],
    )


def perturbed(
    tickets: list[dict], count: int, first_id: int, seed: int = 16
) -> tuple[list[WorkDocument], dict[int, str]]:
    """`count` synthetic tickets: each a random evaluation ticket with a fifth of its words
    replaced by words from other tickets, and a new id; and the family of each id."""
    rng = random.Random(seed + first_id)
    vocabulary = [w for t in tickets for w in f"{t['summary']} {t['description']}".split()]

    def shake(text: str) -> str:
        words = text.split()
        for _ in range(max(1, len(words) // 5)):
            words[rng.randrange(len(words))] = rng.choice(vocabulary)
        return " ".join(words)

    out, families = [], {}
    for offset in range(count):
        t = rng.choice(tickets)
        copy = {
            **t,
            "summary": shake(t["summary"]),
            "description": shake(t["description"]),
            "facts": [shake(f) for f in t["facts"]],
            "resolution": shake(t["resolution"]),
        }
        out.append(document(copy, first_id + offset))
        families[first_id + offset] = t["family"]
    return out, families


# Users' words → the words engineers write in notes: a generic MSP thesaurus of the kind an
# LLM brings, written once for the bench (not per query; it never sees the labels).
THESAURUS = {
    r"\bpw\b|password|sign.?in|log.?in|credential": "password credential authentication prompt",
    r"outbox|never (leave|go|send)|sit there|stuck sending": "outbox send receive OST sync",
    r"mail|inbox|email|e-mail": "Outlook Exchange mailbox",
    r"print|printer|mfp|copier": "printer print spooler queue driver",
    r"scan": "scan to email SMTP copier address book",
    r"vpn|tunnel|remote access|from home": "VPN tunnel GlobalProtect AnyConnect FortiClient",
    r"wi-?fi|wireless": "wireless WiFi adapter access point roaming",
    r"teams": "Microsoft Teams client cache",
    r"camera|webcam|mic|headset|speaker|hear": "audio device camera microphone",
    r"status|away|presence": "presence status",
    r"onedrive|sync|red cross|red x": "OneDrive sync client",
    r"sharepoint|link|shared file": "SharePoint sharing link permissions",
    r"update|patch": "Windows Update cumulative update rollback",
    r"slow|takes forever|ages": "slow logon user profile",
    r"blue screen|crash|restart(s|ed)? by itself": "BSOD driver crash dump",
    r"internet|online|website": "network DNS DHCP gateway",
    r"locked|lock ?out": "account lockout Active Directory",
    r"code|approve|authenticator|text message|phone": "MFA Authenticator registration",
    r"drive|s:|h:|letter": "mapped network drive GPO logon script",
    r"access denied|permission|not allowed|can.?t open": "NTFS share permissions access denied",
    r"licen[cs]e|unlicensed|activate|product": "Office activation license",
    r"excel|spreadsheet|locked for editing": "Excel file lock owner file",
    r"pdf|acrobat|adobe": "Adobe Acrobat sign in license",
    r"citrix|workspace": "Citrix Workspace StoreFront launch ICA",
    r"remote desktop|rdp": "RDP Remote Desktop NLA",
    r"certificate|not secure|warning": "certificate expired RD Gateway SSL",
    r"quickbooks|qb": "QuickBooks multi-user database server manager",
    r"recovery key|bitlocker|blue screen asking": "BitLocker recovery key TPM",
    r"pop.?up|redirect|ads|search engine": "adware browser extension hijack",
    r"backup|veeam": "Veeam backup job failed repository",
    r"whole office|nobody can|everyone": "firewall outage WAN",
    r"new laptop|set ?up|enrol": "Intune Autopilot enrollment",
    r"dock|monitor|screen|display": "docking station display USB-C DisplayLink",
    r"desk ?phone|call|voip": "VoIP SIP one-way audio NAT",
    r"spam|junk|quarantine|missing email": "quarantine spam filter false positive",
    r"shared (mailbox|calendar)": "shared mailbox permissions automapping",
    r"signature": "Outlook signature roaming",
    r"search|find": "Outlook search index",
    r"add.?in|plug.?in": "add-in COM add-in crash",
    r"server name|intranet|internal site": "DNS internal zone resolution",
    r"169\.254|no ip|limited connectivity": "DHCP APIPA lease scope",
    r"send as|on behalf|bounce": "Send As permission NDR",
}


class ThesaurusLLM:
    """A fake LLMProvider: the expansion request answered from THESAURUS."""

    name = "bench-thesaurus"
    model = "fixed-expansions"

    async def generate(self, request: LLMRequest) -> LLMResult:
        query = request.messages[-1]["content"].lower()
        terms = [terms for pattern, terms in THESAURUS.items() if re.search(pattern, query)]
        return LLMResult(" ".join(terms), Usage(), self.model, self.name)

    async def aclose(self) -> None:
        return None
