"""The README's first hour, as a new operator walks it: start the demo (a real process on
free ports), create a token with the line the demo prints, work a ticket through the API,
restart the demo, and find the ticket in the simulated ConnectWise and the session in
Fixpilot still in agreement."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.test_cli import PYTHON, _env, _free_port, _wait_for

TICKET = 5001
NOTE = "Cleared the stuck job from the print queue and restarted the spooler."


@dataclass
class Demo:
    process: subprocess.Popen
    banner: list[str]

    def value_after(self, label: str) -> str:
        """The first word after `label` on the line that starts with it."""
        return self._after(label)[0].split()[0]

    def line_after(self, label: str) -> str:
        """The whole line below the one that starts with `label`."""
        return self._after(label)[1].strip()

    def _after(self, label: str) -> tuple[str, str]:
        for index, line in enumerate(self.banner):
            if line.strip().startswith(label):
                return line.strip().removeprefix(label), self.banner[index + 1]
        raise AssertionError(f"no {label!r} in the banner:\n{''.join(self.banner)}")


def start_demo(cwd: Path, env: dict[str, str], port: int, sim_port: int) -> Demo:
    process = subprocess.Popen(
        [PYTHON, "-m", "plugin", "demo", "--port", str(port), "--sim-port", str(sim_port)],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(f"http://127.0.0.1:{port}/healthz")
    banner = []
    for line in process.stdout:
        banner.append(line)
        if line.startswith("Ctrl-C"):
            return Demo(process, banner)
    raise AssertionError("the demo printed no banner: " + process.stderr.read())


def stop_demo(demo: Demo) -> None:
    demo.process.send_signal(signal.SIGINT)
    _, err = demo.process.communicate(timeout=30)
    assert demo.process.returncode == 0, err


def call(url: str, token: str | None = None, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Bearer {token}"} if token else {}),
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def run_printed_line(line: str, *args: str, cwd: Path) -> str:
    """Run the demo's environment line in a shell that knows nothing of the demo."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIXPILOT_")}
    command = line.split(" tokens create", 1)[0] + " " + " ".join(args)
    done = subprocess.run(
        ["bash", "-c", command], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_demo_walkthrough_survives_a_restart(tmp_path):
    home, elsewhere = tmp_path / "fixpilot", tmp_path / "elsewhere"
    (home / "demo-data").mkdir(parents=True)
    elsewhere.mkdir()
    env = _env("sqlite+aiosqlite:///./demo-data/fixpilot.db")  # relative, as demo.sh sets it
    port, sim_port = _free_port(), _free_port()
    api, sim = f"http://127.0.0.1:{port}/api/v1", f"http://127.0.0.1:{sim_port}"

    demo = start_demo(home, env, port, sim_port)
    try:
        first_admin = demo.value_after("admin")
        assert demo.value_after("engineer").startswith("fxp_")
        state_file = Path(demo.value_after("Simulator state:"))
        assert state_file == home / "demo-data" / "fixpilot.connectwise-sim.json"
        # The printed line points another shell, in another directory, at this database.
        line = demo.line_after("Other commands use this demo's database")
        assert line.startswith("FIXPILOT_DATABASE_URL=")
        token = run_printed_line(line, "tokens create --role engineer --name me", cwd=elsewhere)
        token = token.strip()
        assert not (elsewhere / "fixpilot.db").exists()

        status, session = call(f"{api}/ai-sessions", token, {"psa_ticket_id": TICKET})
        assert status == 201, session
        assert session["title"] == "Front desk printer not printing - print spooler stuck"
        status, result = call(
            f"{api}/ai-sessions/{session['id']}/resolution-note/post", token, {"markdown": NOTE}
        )
        assert status == 200, result
        assert (result["outcome"], result["status"]["verified"]) == ("resolved", True)
        with urllib.request.urlopen(f"{sim}/_sim/tickets", timeout=5) as resp:
            assert f'href="/_sim/ticket/{TICKET}"' in resp.read().decode()
    finally:
        stop_demo(demo)

    demo = start_demo(home, env, port, sim_port)
    try:
        # The demo's own tokens were replaced; the operator's token still works.
        assert call(f"{api}/settings", first_admin)[0] == 401
        assert call(f"{api}/settings", demo.value_after("admin"))[0] == 200
        listed = [json.loads(row) for row in run_printed_line(line, "tokens list", cwd=elsewhere)
                  .splitlines()]  # fmt: skip
        live = sorted(t["name"] for t in listed if not t["revoked"])
        assert live == ["demo", "demo-engineer", "me"]

        status, again = call(f"{api}/ai-sessions/{session['id']}", token)
        assert status == 200
        with urllib.request.urlopen(
            f"{sim}/_sim/ticket/{TICKET}/screen-data?member=jsmith", timeout=5
        ) as resp:
            screen = json.loads(resp.read())
        # The ticket and the session agree: resolved on both sides, the same note.
        assert again["status"] == "resolved"
        assert screen["ticket"]["status_id"] == result["status"]["id"]
        assert screen["ticket"]["status"] == result["status"]["name"] == "Resolved"
        (note,) = [n for n in screen["notes"] if n["id"] == int(result["note"]["external_id"])]
        assert (note["kind"], note["text"]) == ("Resolution", NOTE)
        # Working on continues from where the first run left the simulator: new ids.
        status, other = call(f"{api}/ai-sessions", token, {"psa_ticket_id": 5002})
        assert status == 201
        status, second = call(
            f"{api}/ai-sessions/{other['id']}/resolution-note/post", token, {"markdown": NOTE}
        )
        assert status == 200, second
        assert int(second["note"]["external_id"]) > note["id"]
    finally:
        stop_demo(demo)
