"""Demo data: a small MSP's ConnectWise with two boards and a dozen everyday tickets."""

from __future__ import annotations

from providers.psa.simulator.records import SimBoard, SimMember, SimStatus
from providers.psa.simulator.state import SimulatorState

HELP_DESK_BOARD_ID = 1
ESCALATIONS_BOARD_ID = 2
# Status ids are the board's base + the offsets in _STATUS_NAMES: Help Desk 1-7, Escalations 11-17.
_STATUS_ID_BASE = {HELP_DESK_BOARD_ID: 0, ESCALATIONS_BOARD_ID: 10}
CLOSED_STATUS_OFFSET = 6
DEMO_MEMBER = "jsmith"
DEMO_MEMBER_HASH = "jsmith-demo-hash-6b2f9d0e"
DEMO_MEMBER_CONTEXT = "jsmith-demo-context-41c8a7d2"

_STATUS_NAMES = [
    # (offset, name, closed, inactive, default)
    (1, "New", False, False, True),
    (2, "In Progress", False, False, False),
    (3, "Waiting on Customer", False, False, False),
    (4, "Resolved", True, False, False),
    (5, "Escalated", False, False, False),
    (6, "Closed", True, False, False),
    (7, "Scheduled (legacy)", False, True, False),
]

_COMPANIES = [
    (1, "ContosoDental", "Contoso Dental Group"),
    (2, "NorthwindLogistics", "Northwind Logistics"),
    (3, "FabrikamLegal", "Fabrikam Legal LLP"),
    (4, "TailspinArch", "Tailspin Architects"),
]

_CONTACTS = [
    (101, 1, "Maria Lopez", "maria.lopez@contosodental.example"),
    (102, 1, "Alan Chen", "alan.chen@contosodental.example"),
    (201, 2, "Kevin Brooks", "kevin.brooks@northwind.example"),
    (202, 2, "Priya Natarajan", "priya.natarajan@northwind.example"),
    (301, 3, "Sarah O'Neill", "sarah.oneill@fabrikamlegal.example"),
    (302, 3, "Tom Becker", "tom.becker@fabrikamlegal.example"),
    (401, 4, "Emily Wu", "emily.wu@tailspin.example"),
]

# (id, identifier, first name, last name, email)
_MEMBERS = [
    (150, DEMO_MEMBER, "John", "Smith", "jsmith@msp.example"),
    (151, "agarcia", "Ana", "Garcia", "agarcia@msp.example"),
    (152, "dkim", "David", "Kim", "dkim@msp.example"),
]
# What the Hosted API hands each member's pods: (memberHash, memberContext).
_POD_CREDENTIALS = {
    DEMO_MEMBER: (DEMO_MEMBER_HASH, DEMO_MEMBER_CONTEXT),
    "agarcia": ("agarcia-demo-hash-1c7e", "agarcia-demo-context-5f02"),
    "dkim": ("dkim-demo-hash-93a1", "dkim-demo-context-b7e4"),
}
# The API member: key pair only, no memberHash, licence class A.
_API_MEMBER = (190, "fixpilot_api", "Fixpilot", "API", "fixpilot@msp.example")

# (id, board, status offset, company, contact, summary, what the customer wrote)
_TICKETS = [
    (
        5001,
        1,
        1,
        1,
        101,
        "Front desk printer not printing - print spooler stuck",
        "Jobs sit in the queue as 'Printing' and nothing comes out. Restarting the printer "
        "did not help. Patients are waiting for forms.",
    ),
    (
        5002,
        1,
        2,
        2,
        201,
        "Outlook keeps crashing on start - profile corrupt after update",
        "Since last night's update Outlook opens, shows 'Loading profile' and closes. "
        "Webmail works fine.",
    ),
    (
        5003,
        1,
        1,
        3,
        301,
        "OneDrive sync errors - files stuck on 'Processing changes'",
        "OneDrive shows red crosses on the Clients folder and says 'Processing changes' for "
        "hours. Colleagues don't see my edits.",
    ),
    (
        5004,
        1,
        1,
        1,
        102,
        "AD account locked out repeatedly",
        "My account locks every morning around 9. I changed my password on Friday.",
    ),
    (
        5005,
        1,
        2,
        4,
        401,
        "VPN drops every 10 minutes when working from home",
        "The VPN connects, then drops about every 10 minutes and I have to reconnect. "
        "Home internet is fine otherwise.",
    ),
    (
        5006,
        1,
        3,
        2,
        202,
        "Windows keeps prompting for network credentials",
        "Every time I open the shared drive Windows asks for my password again, even after "
        "ticking 'Remember my credentials'.",
    ),
    (
        5007,
        1,
        1,
        3,
        302,
        "Cannot reach internal sites - DNS resolution failure",
        "intranet.fabrikamlegal.local and the billing app don't load; 'server IP address "
        "could not be found'. Google works.",
    ),
    (
        5008,
        2,
        2,
        4,
        401,
        "Entra Connect sync stale - new users missing in Microsoft 365",
        "Two new starters created in AD on Monday still have no mailbox. The last sync time "
        "in the portal is three days ago.",
    ),
    (
        5009,
        1,
        1,
        1,
        101,
        "Reception PC extremely slow after login",
        "Takes 10 minutes after login before anything opens; the disk light is always on.",
    ),
    (
        5010,
        1,
        1,
        2,
        201,
        "Mapped S: drive missing after reboot",
        "The S: drive with the shipping schedules disappeared after this morning's restart.",
    ),
    (
        5011,
        1,
        1,
        3,
        301,
        "MFA reset needed - new phone",
        "I replaced my phone and can't approve sign-ins any more. Please reset my MFA.",
    ),
    (
        5012,
        1,
        1,
        4,
        401,
        "New hire setup - laptop, M365 license, shared mailbox access",
        "New architect starts on the 1st: laptop, Microsoft 365 Business Premium licence, "
        "access to the projects@ shared mailbox and the Plans share.",
    ),
]


def status_id(board_id: int, offset: int) -> int:
    """The id of a board's status by its offset in _STATUS_NAMES (6 is "Closed")."""
    return _STATUS_ID_BASE[board_id] + offset


def seed_demo(state: SimulatorState) -> SimulatorState:
    """Fill `state` with the demo records. Ids are fixed so tests and fixtures can use them."""
    boards = ((HELP_DESK_BOARD_ID, "Help Desk"), (ESCALATIONS_BOARD_ID, "Escalations"))
    for board_id, name in boards:
        base = _STATUS_ID_BASE[board_id]
        state.boards[board_id] = SimBoard(
            board_id,
            name,
            [
                SimStatus(base + offset, status_name, closed, inactive, default, offset - 1)
                for offset, status_name, closed, inactive, default in _STATUS_NAMES
            ],
        )
    for company_id, identifier, name in _COMPANIES:
        state.companies[company_id] = {"id": company_id, "identifier": identifier, "name": name}
    for contact_id, company_id, name, email in _CONTACTS:
        state.contacts[contact_id] = {
            "id": contact_id,
            "name": name,
            "email": email,
            "company": {"id": company_id},
        }
    members = [SimMember(*fields, *_POD_CREDENTIALS[fields[1]]) for fields in _MEMBERS]
    members.append(SimMember(*_API_MEMBER, license_class="A"))
    for member in members:
        state.members[member.identifier.lower()] = member

    owners = {5002: "jsmith", 5005: "agarcia", 5006: "jsmith", 5008: "dkim"}
    for ticket_id, board_id, offset, company_id, contact_id, summary, description in _TICKETS:
        base = _STATUS_ID_BASE[board_id]
        state.create_ticket(
            summary,
            board_id=board_id,
            company_id=company_id,
            contact_id=contact_id,
            ticket_id=ticket_id,
            actor=DEMO_MEMBER,
        )
        if offset != 1:
            state.human_update(ticket_id, status_id=base + offset, member=DEMO_MEMBER)
        if ticket_id in owners:
            state.tickets[ticket_id]["owner"] = state.members[owners[ticket_id]].ref()
        state.add_note(
            ticket_id,
            {"text": description, "detailDescriptionFlag": True, "customerUpdatedFlag": True},
            DEMO_MEMBER,
        )
    return state
