"""A ConnectWise PSA simulator: a real aiohttp app speaking the ConnectWise REST API, for
tests and demos. `python -m providers.psa.simulator` runs it with the demo seed."""

from providers.psa.simulator.app import STATE_KEY, create_simulator_app
from providers.psa.simulator.seed import (
    DEMO_MEMBER,
    DEMO_MEMBER_HASH,
    ESCALATIONS_BOARD_ID,
    HELP_DESK_BOARD_ID,
    seed_demo,
)
from providers.psa.simulator.state import (
    API_PREFIX,
    Delivery,
    Faults,
    SimBoard,
    SimError,
    SimMember,
    SimStatus,
    SimulatorState,
)

__all__ = [
    "API_PREFIX",
    "DEMO_MEMBER",
    "DEMO_MEMBER_HASH",
    "ESCALATIONS_BOARD_ID",
    "HELP_DESK_BOARD_ID",
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
