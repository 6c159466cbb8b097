"""The house rules that keep the code readable: the import floors (import-linter contracts
in pyproject.toml), modules a reader takes in at one sitting, functions that fit a screen."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# Data, not logic: the simulator's demo records.
EXEMPT = {"providers/psa/simulator/seed.py"}


def _sources() -> list[Path]:
    files = [*ROOT.glob("plugin/**/*.py"), *ROOT.glob("providers/**/*.py")]
    return sorted(p for p in files if str(p.relative_to(ROOT)) not in EXEMPT)


def test_import_floors_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_and_functions_are_small(path: Path):
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") <= MAX_MODULE_LINES, f"{path.name} has {text.count(chr(10))} lines"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {', '.join(long)}"
