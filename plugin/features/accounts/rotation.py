"""Rotating the instance secret: every value sealed with it (the accounts' PSA private keys,
the sessions' remembered secrets) is opened with the old secrets and sealed again with the
new one, in one transaction (a half-rotated database would be half unreadable by either).

A session may hold one value twice, sealed under two secrets (a rotation under way: replicas
on either secret remember it under their own digest). Under the new secret the two would have
one digest, which the table allows once per session: one row takes it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

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
        session_rows, missed = await _reseal_session_secrets(tx, box, new, database.is_sqlite)
        unreadable += missed
    return Rotated(keys, session_rows, unreadable)


async def _reseal_session_secrets(
    tx: AsyncSession, box: SecretBox, new: SecretBox, sqlite: bool
) -> tuple[int, int]:
    """(rows sealed again, rows no secret of `box` opens). A value held twice in a session
    keeps both rows (a pasted one's id may be a script parameter's reference): the row that
    already has the new digest keeps it, else the pasted or else the oldest row takes it,
    and the other keeps its own digest, which no new value will ever have."""
    if not sqlite:  # replicas keep remembering: none may take a digest mid-way
        await tx.execute(text("LOCK TABLE session_secrets IN SHARE ROW EXCLUSIVE MODE"))
    rows = (await tx.execute(select(SessionSecret))).scalars().all()
    opened = [(row, box.decrypt(row.ciphertext)) for row in rows]
    readable = [(row, plain) for row, plain in opened if plain is not None]
    targets = {row.id: (row.session_id, new.digest(plain)) for row, plain in readable}
    taken = {targets[row.id] for row, _ in readable if row.digest == targets[row.id][1]}
    for row, plain in sorted(readable, key=lambda pair: (pair[0].source != "paste", pair[0].id)):
        digest = row.digest
        if targets[row.id] not in taken:
            taken.add(targets[row.id])
            digest = targets[row.id][1]
        await tx.execute(
            update(SessionSecret)
            .where(SessionSecret.id == row.id)
            .values(ciphertext=new.encrypt(plain), digest=digest)
        )
    return len(readable), len(opened) - len(readable)
