#!/usr/bin/env bash
# Installs Fixpilot into .venv and starts it on its embedded defaults: SQLite in ./demo-data,
# the ConnectWise simulator with demo tickets, the shipped script library, and the offline
# assistant unless ANTHROPIC_API_KEY is set. Prints where to open the pod.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e .

mkdir -p demo-data
export FIXPILOT_DATABASE_URL=${FIXPILOT_DATABASE_URL:-sqlite+aiosqlite:///./demo-data/fixpilot.db}
exec .venv/bin/fixpilot demo "$@"
