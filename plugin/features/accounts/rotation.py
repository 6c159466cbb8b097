"""Rotating the instance secret: every value sealed with it (the accounts' PSA private keys,
the sessions' remembered secrets) is opened with the old secrets and sealed again with the
new one, in one transaction (a half-rotated database would be half unreadable by either).

A session may hold one value twice, sealed under two secrets (a rotation under way: replicas
on either secret remember it under their own digest). Under the new secret the two have one
digest, so one row is kept and the other deleted."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, update

from plugin.kernel.db import Database
from plugin.kernel.psa import reseal_connection
from plugin.kernel.secret_memory import SecretBox, SessionSecret
from plugin.kernel.tenancy import Account

MIN_SECRET_LENGTH = 32


@dataclass(frozen=True)
class Rotated:
    private_keys: int
    session_secrets: int
    unreadable: int  # values no old secret opens (left as they were)


async def rotate_instance_secret(
    database: Database, old_secrets: list[str], new_secret: str
) -> Rotated:
    if len(new_secret) < MIN_SECRET_LENGTH:
        raise ValueError(f"the new secret must be at least {MIN_SECRET_LENGTH} characters")
    if new_secret in old_secrets:
        raise ValueError("the new secret is the current one")
    box = SecretBox(new_secret, *old_secrets)  # seals with the new, opens with any
    new = SecretBox(new_secret)
    keys = session_rows = unreadable = 0
    async with database.write() as tx:
        for account in (await tx.execute(select(Account).with_for_update())).scalars():
            resealed, missed = reseal_connection(account, box)
            keys += resealed
            unreadable += missed
        rows = await tx.execute(
            select(SessionSecret.id, SessionSecret.session_id, SessionSecret.ciphertext).order_by(
                SessionSecret.id
            )
        )
        kept: dict[tuple[int, str], tuple[int, str]] = {}  # (session, digest): (row, value)
        repeated: list[int] = []
        for row_id, session_id, ciphertext in rows.all():
            plain = box.decrypt(ciphertext)
            if plain is None:
                unreadable += 1
                continue
            # The digest (which keeps each value once per session) is keyed by the secret too.
            key = (session_id, new.digest(plain))
            if key in kept:
                repeated.append(row_id)
            else:
                kept[key] = (row_id, plain)
        if repeated:  # first, so no update below meets a digest already taken
            await tx.execute(delete(SessionSecret).where(SessionSecret.id.in_(repeated)))
        for (_, digest), (row_id, plain) in kept.items():
            await tx.execute(
                update(SessionSecret)
                .where(SessionSecret.id == row_id)
                .values(ciphertext=new.encrypt(plain), digest=digest)
            )
        session_rows = len(kept)
    return Rotated(keys, session_rows, unreadable)
