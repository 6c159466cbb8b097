"""The command line as an admin uses it: real processes, real ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PYTHON = sys.executable


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FIXPILOT_", "ANTHROPIC_"))}
    env.update(FIXPILOT_DATABASE_URL=database_url, FIXPILOT_LOG_FORMAT="json", **extra)
    return env


def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-m", "plugin", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _wait_for(url: str, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                return resp.status
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout}s")


def test_bad_database_url_is_one_line_and_exit_2(tmp_path):
    result = _cli("serve", env=_env("nonsense"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "FIXPILOT_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_port_names_the_setting(tmp_path):
    result = _cli("serve", env=_env("sqlite:///x.db", FIXPILOT_PORT="eighty"), cwd=tmp_path)
    assert result.returncode == 2
    assert "FIXPILOT_PORT" in result.stderr and "Traceback" not in result.stderr


def test_tokens_and_accounts(tmp_path, database_url):
    env = _env(database_url)
    created = _cli(
        "tokens", "create", "--account", "default", "--role", "engineer", env=env, cwd=tmp_path
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("fxp_") and "\n" not in token
    listed = [
        json.loads(line)
        for line in _cli("tokens", "list", env=env, cwd=tmp_path).stdout.splitlines()
    ]
    assert listed[0]["role"] == "engineer" and token not in json.dumps(listed)
    assert _cli("tokens", "revoke", str(listed[0]["id"]), env=env, cwd=tmp_path).returncode == 0

    added = _cli(
        "accounts",
        "add",
        "acme",
        "--name",
        "Acme IT",
        "--cw-url",
        "https://api-na.example.com/v4_6_release/apis/3.0/",
        "--cw-company-id",
        "acme",
        "--cw-public-key",
        "pub",
        "--cw-private-key",
        "SuperSecretPrivate1",
        env=env,
        cwd=tmp_path,
    )
    assert added.returncode == 0, added.stderr
    assert "SuperSecretPrivate1" not in added.stdout
    shown = json.loads(_cli("accounts", "show", "acme", env=env, cwd=tmp_path).stdout)
    assert shown["psa_connection"]["private_key"] == "****ate1"
    listed = _cli("accounts", "list", env=env, cwd=tmp_path).stdout
    assert "SuperSecretPrivate1" not in listed and '"slug": "acme"' in listed
    assert _cli("accounts", "add", "acme", env=env, cwd=tmp_path).returncode == 1
    missing = _cli(
        "tokens", "create", "--account", "nope", "--role", "admin", env=env, cwd=tmp_path
    )
    assert missing.returncode == 1 and "nope" in missing.stderr


def _call(url: str, token: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def test_serve_answers_and_stops_cleanly_on_sigterm(tmp_path, database_url):
    port = _free_port()
    token = _cli(
        "tokens", "create", "--role", "engineer", env=_env(database_url), cwd=tmp_path
    ).stdout.strip()
    proc = subprocess.Popen(
        [PYTHON, "-m", "plugin", "serve", "--port", str(port)],
        env=_env(database_url),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _wait_for(f"http://127.0.0.1:{port}/healthz") == 200
        assert _wait_for(f"http://127.0.0.1:{port}/readyz") == 200
        # No API key: the offline assistant still answers a chat turn.
        base = f"http://127.0.0.1:{port}/api/v1/ai-sessions"
        session = _call(base, token, {"title": "Printer queue stuck"})
        turn = _call(
            f"{base}/{session['id']}/messages", token, {"content": "the print queue is stuck"}
        )
        assert turn["assistant_message"]["generator"] == "offline"
        assert "offline" in turn["assistant_message"]["content"].lower()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_demo_starts_with_the_simulator_and_the_library(tmp_path):
    port, sim_port = _free_port(), _free_port()
    proc = subprocess.Popen(
        [PYTHON, "-m", "plugin", "demo", "--port", str(port), "--sim-port", str(sim_port)],
        env=_env(f"sqlite+aiosqlite:///{tmp_path}/demo.db"),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _wait_for(f"http://127.0.0.1:{port}/healthz") == 200
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Ctrl-C"):
                break
        text = "".join(lines)
        assert f"http://127.0.0.1:{sim_port}/_sim/ticket/5001?pod=" in text
        token = next(ln.split()[1] for ln in lines if ln.strip().startswith("admin "))
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/scripts/templates",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert len(json.loads(resp.read())["items"]) >= 8
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
