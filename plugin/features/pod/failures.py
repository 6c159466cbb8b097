"""Failed pod sign-ins, counted in the database so that every replica applies the same
limits. Only refusals by ConnectWise are counted, and the limits decide whether a new
attempt may reach ConnectWise at all; a member's right hash is never refused because of
someone else's failures (see `SignInLimits.check`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from plugin.features.pod.models import SignInFailure
from plugin.kernel.db import Database, utcnow

MEMBER = "member"
ADDRESS = "address"


@dataclass(frozen=True)
class Refusal:
    wait_seconds: float
    reason: str  # "member" or "address": which limit refused the attempt


@dataclass
class SignInLimits:
    database: Database
    member_limit: int = 5  # failures per member of an account per window
    address_limit: int = 20  # failures per client address per window
    window: timedelta = timedelta(seconds=300)

    async def check(self, member: str, address: str, now: datetime | None = None) -> Refusal | None:
        """Whether an attempt may be verified with ConnectWise.

        An address over its limit is refused. A member over theirs is refused only from an
        address that failed in the window: whoever guessed at the member is held back,
        while the member, signing in from a clean address with their right hash, is
        verified as usual (the limit must not become a way to lock them out)."""
        now = now or utcnow()
        async with self.database.read() as db:
            by_address = await _recent(db, ADDRESS, address, now - self.window)
            if len(by_address) >= self.address_limit:
                return Refusal(self._wait(by_address, self.address_limit, now), ADDRESS)
            if not by_address:
                return None
            by_member = await _recent(db, MEMBER, member, now - self.window)
        if len(by_member) >= self.member_limit:
            return Refusal(self._wait(by_member, self.member_limit, now), MEMBER)
        return None

    async def record(self, member: str, address: str, now: datetime | None = None) -> None:
        """A failed verification, counted for the member and the address; rows out of the
        window are purged on the way (the table stays as small as the recent failures)."""
        now = now or utcnow()
        async with self.database.write() as tx:
            await tx.execute(
                delete(SignInFailure).where(SignInFailure.failed_at <= now - self.window)
            )
            tx.add_all(
                [
                    SignInFailure(scope=MEMBER, subject=member[:200], failed_at=now),
                    SignInFailure(scope=ADDRESS, subject=address[:200], failed_at=now),
                ]
            )

    async def count(self, scope: str, subject: str, now: datetime | None = None) -> int:
        now = now or utcnow()
        async with self.database.read() as db:
            stmt = select(func.count()).where(
                SignInFailure.scope == scope,
                SignInFailure.subject == subject[:200],
                SignInFailure.failed_at > now - self.window,
            )
            return (await db.execute(stmt)).scalar_one()

    async def clear_member(self, member: str) -> None:
        """The member signed in: their slate is clean again (the address's is not, so one
        good member does not unlock guessing at the others)."""
        async with self.database.write() as tx:
            await tx.execute(
                delete(SignInFailure).where(
                    SignInFailure.scope == MEMBER, SignInFailure.subject == member[:200]
                )
            )

    def _wait(self, failures: list[datetime], limit: int, now: datetime) -> float:
        # `failures` is newest first: the attempt is allowed once the limit-th newest ages out.
        return max(1.0, (failures[limit - 1] + self.window - now).total_seconds())


async def _recent(db: AsyncSession, scope: str, subject: str, since: datetime) -> list[datetime]:
    stmt = (
        select(SignInFailure.failed_at)
        .where(
            SignInFailure.scope == scope,
            SignInFailure.subject == subject[:200],
            SignInFailure.failed_at > since,
        )
        .order_by(SignInFailure.failed_at.desc())
        .limit(100)
    )
    return list((await db.execute(stmt)).scalars())


def member_subject(account_id: int, member_id: str) -> str:
    return f"{account_id}:{member_id.lower()}"[:200]
