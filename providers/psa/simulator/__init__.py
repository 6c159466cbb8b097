"""A ConnectWise PSA simulator: a real aiohttp app speaking the ConnectWise REST API, for
tests and demos. `python -m providers.psa.simulator` runs it with the demo seed.

Modules, by concern: `state` (the world; `tickets` and `registrations` hold its operations,
`records` its record types, `faults` the failure modes, `persistence` save/load), `app`
(the aiohttp app; `dispatch`, `auth`, `listing` and `conditions` are how requests are
routed, authenticated, paged and filtered; `service_api`, `system_api` and `admin` the
handlers), `emitter` (signed callbacks), `hosted` (the simulated ticket screen), `seed`.
"""

from providers.psa.simulator.app import STATE_KEY, create_simulator_app
from providers.psa.simulator.faults import Faults
from providers.psa.simulator.records import (
    API_PREFIX,
    HOSTED_SCREENS,
    SERVICE_TICKET_SCREEN_ID,
    SimBoard,
    SimError,
    SimMember,
    SimStatus,
)
from providers.psa.simulator.seed import (
    DEMO_MEMBER,
    DEMO_MEMBER_CONTEXT,
    DEMO_MEMBER_HASH,
    ESCALATIONS_BOARD_ID,
    HELP_DESK_BOARD_ID,
    seed_demo,
)
from providers.psa.simulator.state import Delivery, SimulatorState

__all__ = [
    "API_PREFIX",
    "DEMO_MEMBER",
    "DEMO_MEMBER_CONTEXT",
    "DEMO_MEMBER_HASH",
    "ESCALATIONS_BOARD_ID",
    "HELP_DESK_BOARD_ID",
    "HOSTED_SCREENS",
    "SERVICE_TICKET_SCREEN_ID",
    "STATE_KEY",
    "Delivery",
    "Faults",
    "SimBoard",
    "SimError",
    "SimMember",
    "SimStatus",
    "SimulatorState",
    "create_simulator_app",
    "seed_demo",
]
