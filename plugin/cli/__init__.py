"""The `fixpilot` command line. The parser is declared here; each command's code lives in
its own module (serve, worker, demo, tokens, accounts, templates, connectwise) and is imported only
when that command runs, so `fixpilot --help` and a bad setting answer at once."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from plugin.kernel.settings import SettingsError, load_settings


class CommandError(Exception):
    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


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
    except SettingsError as exc:  # e.g. an unreadable FIXPILOT_SECRET_KEY_FILE
        print(f"fixpilot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def command(module: str, function: str) -> Callable[..., Any]:
    """The runner `plugin.cli.<module>.<function>`, imported when the command runs."""

    def run(*args: Any) -> Any:
        return getattr(importlib.import_module(f"plugin.cli.{module}"), function)(*args)

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fixpilot", description=__doc__)
    parser.add_argument("--config", type=Path, help="a TOML file of settings (env wins)")
    sub = parser.add_subparsers(title="commands")
    _service(sub)
    _tokens(sub)
    _accounts(sub)
    _templates(sub)
    _connectwise(sub)
    _secrets(sub)
    return parser


def _service(sub) -> None:
    p = sub.add_parser("serve", help="run the service (migrates first)")
    p.add_argument("--no-migrate", action="store_true", help="don't upgrade the database first")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument(
        "--no-worker",
        action="store_true",
        help="leave background work to `fixpilot worker` processes (production layout)",
    )
    p.set_defaults(run=command("serve", "serve"))
    p = sub.add_parser(
        "worker", help="run the callback and writeback workers without the HTTP server"
    )
    p.add_argument("--no-migrate", action="store_true", help="don't upgrade the database first")
    p.set_defaults(run=command("worker", "worker"))
    p = sub.add_parser("migrate", help="upgrade the database to the latest schema")
    p.set_defaults(run=command("serve", "migrate"))
    p = sub.add_parser(
        "demo", help="run with the ConnectWise simulator, demo tickets and the script library"
    )
    p.add_argument("--port", type=int, help="the service's port (default FIXPILOT_PORT)")
    p.add_argument("--sim-port", type=int, default=8090, help="the simulator's port")
    p.add_argument(
        "--sim-state",
        type=Path,
        help="the simulator's records (default: beside the SQLite database)",
    )
    p.set_defaults(run=command("demo", "command"))


def _tokens(sub) -> None:
    tokens = sub.add_parser("tokens", help="API tokens").add_subparsers(title="tokens")
    p = tokens.add_parser("create", help="create a token and print it (shown once)")
    p.add_argument("--account", default="default")
    p.add_argument("--role", choices=["admin", "engineer"], required=True)
    p.add_argument("--name", default="")
    p.set_defaults(run=command("tokens", "create"))
    p = tokens.add_parser("list", help="list tokens (never their values)")
    p.add_argument("--account")
    p.set_defaults(run=command("tokens", "list_tokens"))
    p = tokens.add_parser("revoke", help="revoke a token by id")
    p.add_argument("token_id", type=int)
    p.set_defaults(run=command("tokens", "revoke"))


def _accounts(sub) -> None:
    accounts = sub.add_parser("accounts", help="MSP accounts (tenants)").add_subparsers(
        title="accounts"
    )
    p = accounts.add_parser("add", help="add an account with its PSA connection")
    p.add_argument("slug")
    p.add_argument("--name")
    p.add_argument("--psa", help="the PSA (default: connectwise with --cw-* options, else local)")
    p.add_argument("--psa-config", help="the PSA connection as JSON (the vendor's fields)")
    p.add_argument("--cw-url")
    p.add_argument("--cw-company-id")
    p.add_argument("--cw-public-key")
    p.add_argument("--cw-private-key", help="or set FIXPILOT_NEW_CW_PRIVATE_KEY")
    p.add_argument("--cw-client-id")
    p.add_argument("--cw-api-member-id")
    p.set_defaults(run=command("accounts", "add"))
    p = accounts.add_parser("list", help="list accounts")
    p.set_defaults(run=command("accounts", "list_accounts"))
    p = accounts.add_parser("show", help="show one account (secrets masked)")
    p.add_argument("slug")
    p.set_defaults(run=command("accounts", "show"))


def _templates(sub) -> None:
    templates = sub.add_parser("templates", help="the script library").add_subparsers(
        title="templates"
    )
    p = templates.add_parser(
        "import", help="import an MSP's own templates from a JSON file (idempotent)"
    )
    p.add_argument(
        "file", type=Path, help="a JSON list of templates (the shipped library loads itself)"
    )
    p.add_argument("--account", default="default")
    p.set_defaults(run=command("templates", "import_file"))


def _connectwise(sub) -> None:
    cw = sub.add_parser("connectwise", help="ConnectWise set-up").add_subparsers(
        title="connectwise"
    )
    p = cw.add_parser("install", help="register the callbacks and the pod (idempotent)")
    p.add_argument("--account", default="default")
    p.add_argument("--dry-run", action="store_true", help="show what would be done")
    p.set_defaults(run=command("connectwise", "install_command"))
    p = cw.add_parser("doctor", help="check credentials, permissions, callbacks, statuses")
    p.add_argument("--account", default="default")
    p.add_argument("--fix", action="store_true", help="re-activate inactive callbacks")
    p.set_defaults(run=command("connectwise", "doctor_command"))
    p = cw.add_parser(
        "import-history", help="index closed tickets and their notes as similar-work history"
    )
    p.add_argument("--account", default="default")
    p.add_argument("--since", default="90d", help="90d, 12w or a date (2026-01-31)")
    p.add_argument("--board", type=int, help="only this board's tickets")
    p.add_argument("--restart", action="store_true", help="start over instead of resuming")
    p.set_defaults(run=command("history", "command"))


def _secrets(sub) -> None:
    secrets = sub.add_parser("secrets", help="the instance secret").add_subparsers(title="secrets")
    p = secrets.add_parser(
        "rotate",
        help="seal the PSA private keys and remembered secrets again under a new instance "
        "secret (then restart with it)",
    )
    p.add_argument(
        "--new-secret-file",
        type=Path,
        help="a file holding the new secret (or FIXPILOT_NEW_SECRET_KEY)",
    )
    p.set_defaults(run=command("secrets", "rotate"))
    p = secrets.add_parser(
        "reseal",
        help="seal the PSA private keys and remembered secrets under the current instance "
        "secret, opening what FIXPILOT_SECRET_KEY_FALLBACKS sealed (replicas may run)",
    )
    p.set_defaults(run=command("secrets", "reseal"))
