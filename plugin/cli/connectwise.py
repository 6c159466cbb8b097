"""`fixpilot connectwise install` and `fixpilot connectwise doctor`: the PSA set-up
feature's install and checks, on the account's provider, one printed line each."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable

from plugin.cli.common import run_async
from plugin.features.accounts.service import ensure_default_account
from plugin.features.psa_setup.doctor import run_doctor
from plugin.features.psa_setup.install import SetupError, install_registrations
from plugin.features.psa_setup.report import Report
from plugin.kernel.db import Database
from plugin.kernel.psa import PSAConnections, has_psa
from plugin.kernel.settings import Settings
from plugin.kernel.tenancy import Account, get_account_by_slug
from providers.psa import PSAProvider

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def install(settings: Settings, *, account: str, dry_run: bool) -> int:
    public_url = settings.public_url
    if not public_url:
        print(
            "fixpilot: FIXPILOT_PUBLIC_URL is not set; set it to the https URL ConnectWise "
            "reaches Fixpilot at (e.g. https://fixpilot.example.com)",
            file=sys.stderr,
        )
        return EXIT_USAGE

    async def step(provider: PSAProvider, acct: Account) -> int:
        if provider.setup is None:
            raise SetupError(f"account {acct.slug!r}: its PSA has no set-up to install")
        done = await install_registrations(
            provider.setup, acct.slug, public_url, dry_run, lambda line: print(line, flush=True)
        )
        return EXIT_OK if done else EXIT_FAILED

    return _run(settings, account, step)


def doctor(settings: Settings, *, account: str, fix: bool) -> int:
    async def step(provider: PSAProvider, acct: Account) -> int:
        report = Report(on_line=lambda line: print(line, flush=True))
        await run_doctor(
            provider,
            acct,
            settings.public_url,
            fix,
            report,
            secret_configured=settings.instance_secret_configured,
        )
        return EXIT_FAILED if report.failures else EXIT_OK

    return _run(settings, account, step)


Step = Callable[[PSAProvider, Account], Awaitable[int]]


def _run(settings: Settings, slug: str, step: Step) -> int:
    async def go(database: Database) -> int:
        keys = await ensure_default_account(database, settings)
        async with database.read() as db:
            account = await get_account_by_slug(db, slug)
        if account is None:
            raise SetupError(f"no account {slug!r}; see `fixpilot accounts list`")
        if not has_psa(account):
            raise SetupError(f"account {slug!r} has no ConnectWise connection")
        providers = PSAConnections(settings, keys)
        try:
            return await step(providers.for_account(account), account)
        finally:
            await providers.aclose()

    try:
        return run_async(settings, go)
    except SetupError as exc:
        print(f"fixpilot: {exc}", file=sys.stderr)
        return EXIT_USAGE


def install_command(settings: Settings, args: argparse.Namespace) -> int:
    return install(settings, account=args.account, dry_run=args.dry_run)


def doctor_command(settings: Settings, args: argparse.Namespace) -> int:
    return doctor(settings, account=args.account, fix=args.fix)
