"""`fixpilot secrets rotate`: seal everything again under a new instance secret (replicas
stopped); `fixpilot secrets reseal`: seal everything under the current one, opening what the
fallback secrets sealed (the last step of a rotation with the replicas running)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from plugin.cli import CommandError
from plugin.cli.common import run_async
from plugin.features.accounts.rotation import Rotated, rotate_instance_secret
from plugin.features.accounts.service import (
    configured_secret,
    fallback_secrets,
    forget_generated_secret,
    instance_keys,
    stored_secret,
)
from plugin.kernel.db import Database
from plugin.kernel.settings import Settings

NEW_SECRET_ENV = "FIXPILOT_NEW_SECRET_KEY"


def _new_secret(args: argparse.Namespace) -> str:
    if args.new_secret_file is not None:
        try:
            return Path(args.new_secret_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CommandError(
                f"cannot read --new-secret-file {args.new_secret_file}: {exc.strerror or exc}", 2
            ) from None
    value = os.environ.get(NEW_SECRET_ENV, "").strip()
    if not value:
        raise CommandError(f"give the new secret with --new-secret-file or {NEW_SECRET_ENV}", 2)
    return value


def rotate(settings: Settings, args: argparse.Namespace) -> int:
    new_secret = _new_secret(args)

    async def go(database: Database) -> Rotated:
        # The secret the service uses now, the generated one (a configured secret may have
        # replaced it while some values were still sealed with it), and the fallbacks.
        configured, generated = configured_secret(settings), await stored_secret(database)
        if new_secret == (configured or generated):
            raise CommandError("the new secret is the current one", 2)
        opening = (configured, generated, *fallback_secrets(settings))
        old = [s for s in dict.fromkeys(opening) if s and s != new_secret]
        if not old:
            raise CommandError("there is no instance secret yet: nothing is sealed")
        try:
            return await rotate_instance_secret(database, old, new_secret)
        except ValueError as exc:
            raise CommandError(str(exc), 2) from None

    done = run_async(settings, go)
    _report(done, "the new secret")
    where = (
        f"FIXPILOT_SECRET_KEY_FILE={args.new_secret_file}"
        if args.new_secret_file
        else "FIXPILOT_SECRET_KEY"
    )
    print(f"now restart every replica and worker with {where}: the old secret opens nothing")
    return 0


def reseal(settings: Settings, _args: argparse.Namespace) -> int:
    async def go(database: Database) -> Rotated:
        keys = await instance_keys(database, settings)
        try:
            done = await rotate_instance_secret(database, list(keys.fallbacks), keys.secret_key)
        except ValueError as exc:
            raise CommandError(
                f"the current secret cannot seal: {exc}; move to a new one with "
                "`fixpilot secrets rotate`",
                2,
            ) from None
        if not done.unreadable and configured_secret(settings):
            # Nothing is sealed with the generated secret any more: a key kept in the
            # database beside what it sealed is only a risk now.
            await forget_generated_secret(database)
        return done

    done = run_async(settings, go)
    _report(done, "the current secret")
    if done.unreadable:
        print("add the secrets that sealed them to FIXPILOT_SECRET_KEY_FALLBACKS and run it again")
    else:
        print("every sealed value opens with the current secret: the fallbacks can be removed")
    return 0 if not done.unreadable else 1


def _report(done: Rotated, under: str) -> None:
    print(
        f"sealed again under {under}: {done.private_keys} PSA private key(s), "
        f"{done.session_secrets} remembered session secret(s)"
    )
    if done.unreadable:
        print(f"{done.unreadable} value(s) no old secret opens were left as they were")
