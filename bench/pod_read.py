"""The pod's session read, `GET /api/v1/ai-sessions/{id}`, next to a bare aiohttp handler.

Run: .venv/bin/python bench/pod_read.py [--seconds 8] [--rounds 4] [--clients 32] [--no-pg]
Each server is a real process (`fixpilot serve`, and a bare aiohttp app answering the same
JSON bytes from memory). 32 clients on one aiohttp session in this process read each server
in turn, in interleaved rounds after a warm-up, `--seconds` per server in all. Prints req/s,
p50/p99 and the ratio to bare on SQLite and, if reachable at FIXPILOT_BENCH_PG_URL
(default postgresql+asyncpg://postgres@127.0.0.1:5432/postgres), on PostgreSQL.
Targets (issue 15): ratio >= 0.1 and p99 < 50 ms.

Also printed: each server process's CPU time per request (from /proc), and bare's over
Fixpilot's. On a machine shared with other work, req/s and latency move with the others'
load (and this process's client shares the cores); the CPU ratio is the estimate of the
req/s ratio where the server alone is the bottleneck. CPU per request also rises with the
machine's load (caches, contention), so compare figures from one run only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

SELF = Path(__file__).resolve()
ROOT = SELF.parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from bench.common import percentile  # noqa: E402

PG_URL = os.environ.get(
    "FIXPILOT_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
SCRIPT = "Get-Service Spooler | Restart-Service -Force\nGet-PrintJob -PrinterName PRN-01\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _seed(url: str) -> tuple[str, int]:
    """A migrated database with one session as the pod sees it mid-fix: ticket, an applied
    fix with a script, two superseded ones, and a queued writeback. Returns (token, id)."""
    from plugin.features.accounts.auth import create_token
    from plugin.features.accounts.service import ensure_default_account
    from plugin.features.fixes.models import SuggestedFix
    from plugin.features.writeback.models import Writeback
    from plugin.kernel.ai_sessions import AISession
    from plugin.kernel.db import Database, utcnow
    from plugin.kernel.migrate import upgrade
    from plugin.kernel.settings import Settings
    from plugin.kernel.tenancy import get_account_by_slug

    await upgrade(url)
    db = Database(url)
    settings = Settings.model_construct(**{**Settings().model_dump(), "database_url": url})
    await ensure_default_account(db, settings)
    now = utcnow()
    async with db.write() as tx:
        account = await get_account_by_slug(tx, "default")
        token, _ = await create_token(
            tx, account, role="engineer", kind="pod", member_id="jsmith",
            expires_at=now + timedelta(hours=8),
        )  # fmt: skip
        session = AISession(
            account_id=account.id,
            title="Printer queue stuck on PRN-01",
            psa_ticket_id=5001,
            state_version=4,
            ticket_state="open",
            ticket_context={
                "summary": "Printer queue stuck on PRN-01",
                "board_id": 1,
                "board_name": "Help Desk",
                "status_id": 2,
                "status_name": "In Progress",
                "company_name": "Contoso",
                "contact_name": "Ann Lee",
                "closed": False,
                "merged_parent_id": None,
            },
        )
        tx.add(session)
        await tx.flush()
        for status, superseded in (("suggested", now), ("dismissed", None)):
            tx.add(
                SuggestedFix(
                    session_id=session.id, title="Older idea", summary="", status=status,
                    superseded_at=superseded,
                )
            )  # fmt: skip
        tx.add(
            SuggestedFix(
                session_id=session.id,
                title="Restart the print spooler",
                summary="Clears the stuck queue.",
                confidence=85,
                ai_drafted_parameters={"printer": "PRN-01"},
                ai_drafted_script=SCRIPT,
                applied_at=now,
            )
        )
        tx.add(
            Writeback(
                account_id=account.id, session_id=session.id, kind="resolution",
                markdown="## Resolution", created_by="jsmith",
            )
        )  # fmt: skip
        await tx.flush()
        session_id = session.id
    await db.dispose()
    return token, session_id


async def _wait_up(url: str, proc: subprocess.Popen, within: float = 60) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited with {proc.returncode}")
            try:
                async with http.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


class Target:
    """One server under load: its URL, headers, and what its rounds measured."""

    def __init__(self, name: str, url: str, headers: dict, pid: int) -> None:
        self.name, self.url, self.headers, self.pid = name, url, headers, pid
        self.latencies: list[float] = []
        self.elapsed = 0.0
        self.cpu = 0.0  # the server process's CPU seconds (user + system) while measured
        self.errors = 0

    async def run(self, clients: int, seconds: float, record: bool = True) -> None:
        connector = aiohttp.TCPConnector(limit=clients)
        async with aiohttp.ClientSession(connector=connector, headers=self.headers) as http:

            async def client(until: float) -> None:
                while (started := time.perf_counter()) < until:
                    async with http.get(self.url) as resp:
                        await resp.read()
                        ok = resp.status == 200
                    if record:
                        self.latencies.append(time.perf_counter() - started)
                        self.errors += not ok

            began, cpu = time.perf_counter(), _cpu_seconds(self.pid)
            await asyncio.gather(*(client(began + seconds) for _ in range(clients)))
            if record:
                self.elapsed += time.perf_counter() - began
                self.cpu += _cpu_seconds(self.pid) - cpu

    def figures(self) -> dict:
        return {
            "rps": len(self.latencies) / self.elapsed,
            "p50": percentile(self.latencies, 50) * 1000,
            "p99": percentile(self.latencies, 99) * 1000,
            "errors": self.errors,
            "n": len(self.latencies),
            "cpu_ms": self.cpu * 1000 / len(self.latencies),
        }


def _cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time: what a request costs the server, whatever else
    the machine is doing (req/s and latency are not, on a shared machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _spawn(args: list[str], env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _start_fixpilot(db_url: str, procs: list) -> tuple[str, dict, bytes, int]:
    token, session_id = await _seed(db_url)
    port = _free_port()
    proc = _spawn(
        ["-m", "plugin", "serve", "--host", "127.0.0.1", "--port", str(port)],
        {
            "FIXPILOT_DATABASE_URL": db_url,
            "FIXPILOT_LOG_FORMAT": "json",  # production's format, written to /dev/null
            "FIXPILOT_LOG_LEVEL": "info",
            "FIXPILOT_SHIPPED_LIBRARY": "false",
        },
    )
    procs.append(proc)
    base = f"http://127.0.0.1:{port}"
    await _wait_up(base + "/healthz", proc)
    url = f"{base}/api/v1/ai-sessions/{session_id}"
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        body = await resp.read()
    return url, headers, body, proc.pid


async def _start_bare(body_path: str, procs: list) -> tuple[str, int]:
    port = _free_port()
    proc = _spawn([str(SELF), "--bare", str(port), body_path])
    procs.append(proc)
    await _wait_up(f"http://127.0.0.1:{port}/healthz", proc)
    return f"http://127.0.0.1:{port}/api/v1/ai-sessions/1", proc.pid


def _serve_bare(port: int, body_path: str) -> None:
    """The reference: aiohttp answering the same bytes with no database, auth or logging."""
    body = Path(body_path).read_bytes()

    async def read(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    async def health(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/api/v1/ai-sessions/{id}", read)
    app.router.add_get("/healthz", health)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def _pg_database() -> str | None:
    try:
        import asyncpg

        dsn = PG_URL.replace("postgresql+asyncpg", "postgresql")
        conn = await asyncpg.connect(dsn, timeout=3)
    except (OSError, ImportError, Exception):  # noqa: BLE001 - unreachable: skip PostgreSQL
        return None
    name = f"bench_pod_read_{uuid.uuid4().hex[:8]}"
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return PG_URL.rsplit("/", 1)[0] + "/" + name


async def _drop_pg(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg", "postgresql"))
    await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    await conn.close()


def _line(name: str, r: dict, bare: dict | None) -> str:
    ratio = f"{r['rps'] / bare['rps']:.3f}" if bare else "1.000"
    cpu_ratio = f"{bare['cpu_ms'] / r['cpu_ms']:.3f}" if bare else "1.000"
    return (
        f"  {name:22} {r['rps']:7.0f} req/s  p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms"
        f"  ratio {ratio}  | server CPU {r['cpu_ms']:5.3f} ms/req, ratio {cpu_ratio}"
        f"  | non-200: {r['errors']} of {r['n']}"
    )


async def main(args: argparse.Namespace) -> None:
    print(
        f"pod session read, {args.clients} clients, {args.seconds:g} s each in {args.rounds} "
        f"interleaved rounds after a 1 s warm-up (nproc {os.cpu_count()}, "
        f"{os.uname().release}, Python {sys.version.split()[0]})"
    )
    procs: list[subprocess.Popen] = []
    pg_url = None if args.no_pg else await _pg_database()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            sqlite_url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            url, headers, body, pid = await _start_fixpilot(sqlite_url, procs)
            targets = [Target("Fixpilot, SQLite", url, headers, pid)]
            body_path = Path(tmp) / "body.json"
            body_path.write_bytes(body)
            url, pid = await _start_bare(str(body_path), procs)
            targets.insert(0, Target("bare aiohttp", url, {}, pid))
            if pg_url is not None:
                url, headers, _, pid = await _start_fixpilot(pg_url, procs)
                targets.append(Target("Fixpilot, PostgreSQL", url, headers, pid))
            for target in targets:
                await target.run(args.clients, 1.0, record=False)
            # Interleaved rounds: on a shared machine, a burst of other work lands on all.
            for _ in range(args.rounds):
                for target in targets:
                    await target.run(args.clients, args.seconds / args.rounds)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=30)
            if pg_url is not None:
                await _drop_pg(pg_url)
    print(f"  (the answer: {len(body)} bytes of JSON)")
    bare = targets[0].figures()
    for target in targets:
        print(_line(target.name, target.figures(), None if target is targets[0] else bare))
    if pg_url is None:
        print("  PostgreSQL: not measured (unreachable or --no-pg)")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--bare":
        _serve_bare(int(sys.argv[2]), sys.argv[3])
        raise SystemExit(0)
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--no-pg", action="store_true")
    asyncio.run(main(parser.parse_args()))
