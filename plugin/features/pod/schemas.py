"""Request and response models of the pod page and its member sign-in."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ACCOUNT_SLUG = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


EMBED = Field(
    None,
    max_length=300,
    description="The origin of the PSA window that frames the page (carried by the pages "
    "from one to the next; the first page takes it from the Referer)",
)


class PodQuery(BaseModel):
    id: str | None = Field(None, max_length=64, description="ConnectWise record id ([cw_id])")
    screen: str | None = Field(None, max_length=64, description="ConnectWise screen ([cw_screen])")
    account: str = Field("default", pattern=ACCOUNT_SLUG)
    embed: str | None = EMBED


class AccountQuery(BaseModel):
    account: str = Field("default", pattern=ACCOUNT_SLUG)
    embed: str | None = EMBED
    # The pages' own parameters (read by their scripts): allowed, not used here.
    model_config = ConfigDict(extra="ignore")


class PodSessionIn(BaseModel):
    """What the pod got from ConnectWise's getMemberAuthentication. The member id, hash and
    memberContext are checked against the account's own ConnectWise (the context travels
    with the hash); the rest is accepted so the pod can forward it, and is never trusted
    (the company comes from the account)."""

    model_config = ConfigDict(extra="forbid")

    account: str = Field("default", pattern=ACCOUNT_SLUG)
    member_id: str = Field(min_length=1, max_length=100)
    member_hash: str = Field(min_length=1, max_length=1000)
    memberContext: str | None = Field(None, max_length=1000)
    memberEmail: str | None = Field(None, max_length=320)
    site: str | None = Field(None, max_length=500)
    companyid: str | int | None = Field(None)
    role: Literal["engineer", "admin"] = Field(
        "engineer",
        description="admin: an admin session for the admin page, given only to a member "
        "listed in the account's admin_members preference (403 otherwise)",
    )

    @field_validator("member_id", "member_hash")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class PodMember(BaseModel):
    id: str
    name: str | None
    email: str | None


class PodSessionOut(BaseModel):
    token: str = Field(description="Bearer token for /api/v1 (the role asked for), short-lived")
    role: str = "engineer"
    may_admin: bool = Field(False, description="The member is one of the account's admin_members")
    expires_at: datetime
    member: PodMember
    account: str


class PodOrigins(BaseModel):
    """Who may frame the pod: the origins derived from the account's PSA connection, and
    the admin's extra ones (`extra_pod_origins`)."""

    from_psa: list[str]
    extra: list[str]
