"""Run the ConnectWise simulator with the demo seed:

python -m providers.psa.simulator --host 127.0.0.1 --port 8090 [--state-file sim.json] [--cloud]
                                  [--history]

With `--state-file`, the records are loaded from that file when it exists and saved to it
after every change and when the simulator stops, so tickets, notes and registrations
survive a restart.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from aiohttp import web

from providers.psa.simulator import (
    API_PREFIX,
    DEMO_MEMBER,
    DEMO_MEMBER_CONTEXT,
    DEMO_MEMBER_HASH,
    SimulatorState,
    create_simulator_app,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="ConnectWise PSA simulator (demo data)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--state-file", type=Path, help="keep the records in this JSON file")
    parser.add_argument("--cloud", action="store_true", help="answer companyinfo as Cloud")
    parser.add_argument(
        "--history", action="store_true", help="add a few hundred closed tickets with notes"
    )
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    state_file: Path | None = args.state_file
    if state_file is not None and state_file.exists():
        state = SimulatorState.load(state_file)
    else:
        state = SimulatorState.demo(history=args.history)
    state.site_url = f"http://{args.host}:{args.port}"
    state.cloud = state.cloud or args.cloud
    print(
        "ConnectWise simulator (demo data; local use only)\n"
        f"  api_url       {state.site_url}{API_PREFIX}/\n"
        f"  company_id    {state.company_id}\n"
        f"  public_key    {state.public_key}\n"
        f"  private_key   {state.private_key}\n"
        f"  client_id     {state.client_id}\n"
        f"  api_member_id {state.api_member_id}\n"
        f"  pod member    {DEMO_MEMBER} / memberHash {DEMO_MEMBER_HASH}"
        f" / memberContext {DEMO_MEMBER_CONTEXT}\n"
        f"  tickets       {state.site_url}/_sim/tickets\n"
        f"  admin API     {state.site_url}/_sim/state",
        flush=True,
    )
    app = create_simulator_app(state, state_file=state_file)
    web.run_app(app, host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
