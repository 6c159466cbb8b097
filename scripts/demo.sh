#!/usr/bin/env bash
# Installs Fixpilot into .venv and starts it on its embedded defaults: SQLite in ./demo-data,
# the ConnectWise simulator with demo tickets (its records kept beside the database), the
# shipped script library, and the offline assistant unless ANTHROPIC_API_KEY is set. Prints
# where to open the pod, API tokens, and the line that points other commands at this
# database. Arguments go to `fixpilot demo` (e.g. --port 9080 --sim-port 9090).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e .

mkdir -p demo-data
export FIXPILOT_DATABASE_URL=${FIXPILOT_DATABASE_URL:-sqlite+aiosqlite:///./demo-data/fixpilot.db}
exec .venv/bin/fixpilot demo "$@"
