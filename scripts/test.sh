#!/usr/bin/env bash
# Installs the test dependencies and runs the whole suite: on SQLite, then again on
# PostgreSQL when it is reachable (each test in a fresh database it creates and drops; the
# tests that use no database of the backend under test run in the SQLite pass only).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k writeback`.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'

# Browser tests drive Debian's chromium (a browser download is not possible here).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "chromium could not be installed: the browser tests will fail"
  else
    echo "chromium is not installed (apt-get install chromium): the browser tests will fail"
  fi
fi

PG_URL=${FIXPILOT_TEST_PG_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/test}
status=0
echo "== test suite on SQLite"
FIXPILOT_TEST_DB=sqlite .venv/bin/python -m pytest -q -p no:cacheprovider "$@" || status=$?

if .venv/bin/python - "$PG_URL" <<'PY' 2>/dev/null
import asyncio, sys
import asyncpg
async def main():
    conn = await asyncpg.connect(sys.argv[1].replace("postgresql+asyncpg", "postgresql"), timeout=3)
    await conn.close()
asyncio.run(main())
PY
then
  echo "== test suite on PostgreSQL"
  FIXPILOT_TEST_DB=postgresql FIXPILOT_TEST_PG_URL="$PG_URL" \
    .venv/bin/python -m pytest -q -p no:cacheprovider "$@" || status=$?
else
  echo "PostgreSQL is not reachable at ${PG_URL#*@}: ran the suite on SQLite only"
fi
exit $status
