"""Real `fixpilot` processes for the tests that need them (worker, kill -9): started with
asyncio so the ConnectWise simulator of the same test keeps serving them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys

import aiohttp

PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fixpilot_env(database_url: str, cw_sim, **extra: str) -> dict[str, str]:
    """The environment of a process whose default account is the simulator's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FIXPILOT_", "ANTHROPIC_"))}
    env.update(
        FIXPILOT_DATABASE_URL=database_url,
        FIXPILOT_LOG_FORMAT="json",
        FIXPILOT_LOG_LEVEL="warning",
        FIXPILOT_SHIPPED_LIBRARY="false",
        FIXPILOT_WORKER_POLL_SECONDS="0.1",
        FIXPILOT_CW_URL=cw_sim.api_url,
        FIXPILOT_CW_COMPANY_ID=cw_sim.company_id,
        FIXPILOT_CW_PUBLIC_KEY=cw_sim.public_key,
        FIXPILOT_CW_PRIVATE_KEY=cw_sim.private_key,
        FIXPILOT_CW_CLIENT_ID=cw_sim.client_id,
        FIXPILOT_CW_API_MEMBER_ID=cw_sim.api_member_id,
        FIXPILOT_PSA_CLIENT_OPTIONS='{"retry_backoff": 0.01, "max_attempts": 3, "timeout": 3.0}',
        **extra,
    )
    return env


async def start(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        PYTHON,
        "-m",
        "plugin",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def wait_for_http(url: str, proc: asyncio.subprocess.Process, within: float = 30) -> None:
    async with asyncio.timeout(within), aiohttp.ClientSession() as http:
        while True:
            if proc.returncode is not None:
                raise AssertionError(f"the process exited with {proc.returncode}")
            try:
                async with http.get(url) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)


async def wait_for_line(proc: asyncio.subprocess.Process, start: str, within: float = 30) -> None:
    async with asyncio.timeout(within):
        while True:
            line = await proc.stdout.readline()
            if not line:
                raise AssertionError("the process ended before it was ready")
            if line.decode().startswith(start):
                return


async def stop(proc: asyncio.subprocess.Process, sig: int = signal.SIGTERM) -> tuple[int, str]:
    """Signal the process and wait: its exit code and its stderr."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode, err.decode(errors="replace")
