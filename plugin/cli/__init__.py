"""The `fixpilot` command line: one module per command group, each adding its parsers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from plugin.cli import accounts, connectwise, demo, history, serve, templates, tokens
from plugin.cli.common import CommandError
from plugin.kernel.settings import SettingsError, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(f"fixpilot: {exc}", file=sys.stderr)
        return 2
    try:
        return args.run(settings, args) or 0
    except CommandError as exc:
        print(f"fixpilot: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fixpilot", description=__doc__)
    parser.add_argument("--config", type=Path, help="a TOML file of settings (env wins)")
    sub = parser.add_subparsers(title="commands")
    for group in (serve, demo, tokens, accounts, templates):
        group.add_commands(sub)
    history.add_commands(connectwise.add_commands(sub))
    return parser
