"""The `fixpilot` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from plugin.settings import Settings, SettingsError, load_settings


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


class CommandError(Exception):
    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fixpilot", description=__doc__)
    parser.add_argument("--config", type=Path, help="a TOML file of settings (env wins)")
    sub = parser.add_subparsers(title="commands")

    p = sub.add_parser("serve", help="run the service (migrates first)")
    p.add_argument("--no-migrate", action="store_true", help="don't upgrade the database first")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(run=cmd_serve)

    p = sub.add_parser(
        "demo", help="run with the ConnectWise simulator, demo tickets and the script library"
    )
    p.add_argument("--port", type=int, help="the service's port (default FIXPILOT_PORT)")
    p.add_argument("--sim-port", type=int, default=8090, help="the simulator's port")
    p.set_defaults(run=cmd_demo)

    p = sub.add_parser("migrate", help="upgrade the database to the latest schema")
    p.set_defaults(run=cmd_migrate)

    tokens = sub.add_parser("tokens", help="API tokens").add_subparsers(title="tokens")
    p = tokens.add_parser("create", help="create a token and print it (shown once)")
    p.add_argument("--account", default="default")
    p.add_argument("--role", choices=["admin", "engineer"], required=True)
    p.add_argument("--name", default="")
    p.set_defaults(run=cmd_tokens_create)
    p = tokens.add_parser("list", help="list tokens (never their values)")
    p.add_argument("--account")
    p.set_defaults(run=cmd_tokens_list)
    p = tokens.add_parser("revoke", help="revoke a token by id")
    p.add_argument("token_id", type=int)
    p.set_defaults(run=cmd_tokens_revoke)

    accounts = sub.add_parser("accounts", help="MSP accounts (tenants)").add_subparsers(
        title="accounts"
    )
    p = accounts.add_parser("add", help="add an account with its ConnectWise connection")
    p.add_argument("slug")
    p.add_argument("--name")
    p.add_argument("--cw-url")
    p.add_argument("--cw-company-id")
    p.add_argument("--cw-public-key")
    p.add_argument("--cw-private-key", help="or set FIXPILOT_NEW_CW_PRIVATE_KEY")
    p.add_argument("--cw-client-id")
    p.add_argument("--cw-api-member-id")
    p.set_defaults(run=cmd_accounts_add)
    p = accounts.add_parser("list", help="list accounts")
    p.set_defaults(run=cmd_accounts_list)
    p = accounts.add_parser("show", help="show one account (secrets masked)")
    p.add_argument("slug")
    p.set_defaults(run=cmd_accounts_show)
    templates = sub.add_parser("templates", help="the script library").add_subparsers(
        title="templates"
    )
    p = templates.add_parser("import", help="import templates from a JSON file (idempotent)")
    p.add_argument("file", type=Path, help="a JSON list of templates, e.g. the shipped library")
    p.add_argument("--account", default="default")
    p.set_defaults(run=cmd_templates_import)

    cw = sub.add_parser("connectwise", help="ConnectWise set-up").add_subparsers(
        title="connectwise"
    )
    p = cw.add_parser("install", help="register the callbacks and the pod (idempotent)")
    p.add_argument("--account", default="default")
    p.add_argument("--dry-run", action="store_true", help="show what would be done")
    p.set_defaults(run=cmd_connectwise_install)
    p = cw.add_parser("doctor", help="check credentials, permissions, callbacks, statuses")
    p.add_argument("--account", default="default")
    p.add_argument("--fix", action="store_true", help="re-activate inactive callbacks")
    p.set_defaults(run=cmd_connectwise_doctor)
    return parser


def cmd_templates_import(settings: Settings, args: argparse.Namespace) -> int:
    from plugin.accounts.service import ensure_default_account, get_account_by_slug
    from plugin.errors import ApiError
    from plugin.scripts.service import import_templates

    try:
        items = json.loads(args.file.read_text())
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read {args.file}: {exc}", exit_code=2) from None
    if not isinstance(items, list):
        raise CommandError(f"{args.file} must hold a JSON list of templates", exit_code=2)

    async def go(db) -> dict:
        await ensure_default_account(db, settings)
        async with db.write() as session:
            account = await get_account_by_slug(session, args.account)
            if account is None:
                raise CommandError(f"no account {args.account!r}")
            try:
                return await import_templates(session, account.id, items, origin="library")
            except ApiError as exc:
                fields = "; ".join(f"{k}: {v}" for k, v in exc.details.get("fields", {}).items())
                raise CommandError(f"{exc.message} {fields}".strip(), exit_code=2) from None

    counts = run_async(settings, go)
    print(", ".join(f"{n} {what}" for what, n in counts.items()))
    return 0


def cmd_connectwise_install(settings: Settings, args: argparse.Namespace) -> int:
    from plugin.callbacks.setup_commands import install

    return install(settings, account=args.account, dry_run=args.dry_run)


def cmd_connectwise_doctor(settings: Settings, args: argparse.Namespace) -> int:
    from plugin.callbacks.setup_commands import doctor

    return doctor(settings, account=args.account, fix=args.fix)


def run_async(settings: Settings, fn: Callable[[Any], Coroutine[Any, Any, Any]]) -> Any:
    """Migrate, open the database, run `fn(db)`, close; database failures are one line."""
    from sqlalchemy.exc import DBAPIError

    from plugin.db import Database
    from plugin.migrate import upgrade

    async def runner() -> Any:
        await upgrade(settings.database_url)
        db = Database(settings.database_url)
        try:
            return await fn(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(runner())
    except (DBAPIError, OSError) as exc:
        raise CommandError(f"cannot use the database: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return f"{type(orig).__name__}: {str(orig).splitlines()[0] if str(orig) else ''}"


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from plugin.demo import run_demo

    if args.port is not None:
        settings = settings.model_copy(update={"port": args.port})
    try:
        asyncio.run(run_demo(settings, sim_port=args.sim_port))
    except OSError as exc:
        raise CommandError(f"cannot start the demo: {exc}") from None
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from plugin.migrate import head_revision

    run_async(settings, _noop)
    print(f"database is at migration {head_revision()}")
    return 0


async def _noop(db) -> None:
    return None


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from aiohttp import web

    from plugin.app import create_app
    from plugin.logging import configure_logging

    if args.host:
        settings = settings.model_copy(update={"host": args.host})
    if args.port is not None:
        settings = settings.model_copy(update={"port": args.port})
    configure_logging(settings.log_format, settings.log_level)
    if not args.no_migrate:
        run_async(settings, _noop)
    app = create_app(settings)
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    print(f"Fixpilot is listening on http://{settings.host}:{settings.port} ({base})", flush=True)
    # run_app stops accepting on SIGTERM/SIGINT, lets in-flight requests finish for up to
    # shutdown_timeout, then runs cleanup_ctx (background workers stop there).
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        shutdown_timeout=settings.shutdown_timeout_seconds,
        print=None,
        access_log=None,
    )
    return 0


def cmd_tokens_create(settings: Settings, args: argparse.Namespace) -> int:
    from plugin.accounts.auth import create_token
    from plugin.accounts.service import ensure_default_account, get_account_by_slug

    async def go(db) -> str:
        await ensure_default_account(db, settings)
        async with db.write() as session:
            account = await get_account_by_slug(session, args.account)
            if account is None:
                raise CommandError(f"no account {args.account!r}; see `fixpilot accounts list`")
            token, _ = await create_token(session, account, role=args.role, name=args.name)
            return token

    print(run_async(settings, go))
    return 0


def cmd_tokens_list(settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from plugin.accounts.models import Account, ApiToken

    async def go(db) -> list[dict]:
        async with db.read() as session:
            stmt = (
                select(ApiToken, Account.slug)
                .join(Account)
                .where(ApiToken.kind == "api")
                .order_by(ApiToken.id)
            )
            if args.account:
                stmt = stmt.where(Account.slug == args.account)
            rows = (await session.execute(stmt)).all()
        return [
            {
                "id": t.id,
                "account": slug,
                "role": t.role,
                "name": t.name,
                "prefix": t.token_prefix + "…",
                "created_at": t.created_at.isoformat(timespec="seconds"),
                "last_used_at": t.last_used_at.isoformat(timespec="seconds")
                if t.last_used_at
                else None,
                "revoked": t.revoked_at is not None,
            }
            for t, slug in rows
        ]

    for row in run_async(settings, go):
        print(json.dumps(row))
    return 0


def cmd_tokens_revoke(settings: Settings, args: argparse.Namespace) -> int:
    from plugin.accounts.models import ApiToken
    from plugin.db import utcnow

    async def go(db) -> None:
        async with db.write() as session:
            token = await session.get(ApiToken, args.token_id)
            if token is None:
                raise CommandError(f"no token with id {args.token_id}")
            token.revoked_at = token.revoked_at or utcnow()

    run_async(settings, go)
    print(f"token {args.token_id} revoked")
    return 0


def cmd_accounts_add(settings: Settings, args: argparse.Namespace) -> int:
    import os

    from plugin.accounts.models import Account
    from plugin.accounts.service import describe_account, get_account_by_slug

    private_key = args.cw_private_key or os.environ.get("FIXPILOT_NEW_CW_PRIVATE_KEY")
    cw = [args.cw_url, args.cw_company_id, args.cw_public_key, private_key]
    if any(cw) and not all(cw):
        raise CommandError(
            "a ConnectWise connection needs --cw-url, --cw-company-id, --cw-public-key and "
            "--cw-private-key together",
            exit_code=2,
        )
    if args.cw_url and not args.cw_url.startswith(("http://", "https://")):
        raise CommandError("--cw-url must be an http(s) URL", exit_code=2)

    async def go(db) -> dict:
        async with db.write() as session:
            if await get_account_by_slug(session, args.slug) is not None:
                raise CommandError(f"account {args.slug!r} already exists")
            account = Account(
                slug=args.slug,
                name=args.name or args.slug,
                psa_provider="connectwise" if all(cw) else "local",
                cw_api_url=args.cw_url,
                cw_company_id=args.cw_company_id,
                cw_public_key=args.cw_public_key,
                cw_private_key=private_key,
                cw_client_id=args.cw_client_id,
                cw_api_member_id=args.cw_api_member_id,
                preferences={},
            )
            session.add(account)
            await session.flush()
            return describe_account(account)

    print(json.dumps(run_async(settings, go), indent=2))
    return 0


def cmd_accounts_list(settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from plugin.accounts.models import Account
    from plugin.accounts.service import describe_account, ensure_default_account

    async def go(db) -> list[dict]:
        await ensure_default_account(db, settings)
        async with db.read() as session:
            accounts = (await session.execute(select(Account).order_by(Account.id))).scalars()
            return [describe_account(a) for a in accounts]

    for row in run_async(settings, go):
        print(json.dumps(row))
    return 0


def cmd_accounts_show(settings: Settings, args: argparse.Namespace) -> int:
    from plugin.accounts.service import (
        describe_account,
        ensure_default_account,
        get_account_by_slug,
    )

    async def go(db) -> dict:
        await ensure_default_account(db, settings)
        async with db.read() as session:
            account = await get_account_by_slug(session, args.slug)
            if account is None:
                raise CommandError(f"no account {args.slug!r}")
            return describe_account(account)

    print(json.dumps(run_async(settings, go), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
