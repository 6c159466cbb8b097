"""Run the ConnectWise simulator with the demo seed:

python -m providers.psa.simulator --host 127.0.0.1 --port 8090
"""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from providers.psa.simulator import (
    API_PREFIX,
    DEMO_MEMBER,
    DEMO_MEMBER_HASH,
    SimulatorState,
    create_simulator_app,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="ConnectWise PSA simulator (demo data)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    state = SimulatorState.demo()
    state.site_url = f"http://{args.host}:{args.port}"
    print(
        "ConnectWise simulator (demo data; local use only)\n"
        f"  api_url       {state.site_url}{API_PREFIX}/\n"
        f"  company_id    {state.company_id}\n"
        f"  public_key    {state.public_key}\n"
        f"  private_key   {state.private_key}\n"
        f"  client_id     {state.client_id}\n"
        f"  api_member_id {state.api_member_id}\n"
        f"  pod member    {DEMO_MEMBER} / memberHash {DEMO_MEMBER_HASH}\n"
        f"  admin API     {state.site_url}/_sim/state",
        flush=True,
    )
    web.run_app(create_simulator_app(state), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
