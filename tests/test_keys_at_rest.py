"""PSA private keys sealed at rest with the instance secret: what the column holds after an
account is saved and after the upgrade, the PSA client still signing in, the rotation of
the secret, and the doctor's warning about a secret kept in the same database."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from plugin.features.accounts.rotation import rotate_instance_secret
from plugin.features.psa_setup.doctor import check_instance_secret
from plugin.features.psa_setup.report import Report
from plugin.kernel.appkeys import INSTANCE, PSA, SETTINGS
from plugin.kernel.migrate import downgrade, upgrade
from plugin.kernel.secret_memory import (
    SEALED_PREFIX,
    Caught,
    SecretBox,
    recall,
    remember,
)
from plugin.kernel.tenancy import get_account_by_slug
from providers.psa import PSAAuthError
from tests.helpers import db_of, new_session
from tests.test_cli import _cli, _env

NEW_SECRET = "a-new-instance-secret-kept-in-a-file-0123456789"


async def _raw_configs(url: str) -> dict[str, dict]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT slug, psa_config FROM accounts"))).all()
    finally:
        await engine.dispose()
    return {
        slug: (json.loads(config) if isinstance(config, str) else config)
        for slug, config in rows
        if config
    }


async def _account(client):
    async with db_of(client).read() as db:
        return await get_account_by_slug(db, "default")


async def test_the_stored_private_key_is_sealed_and_still_signs_in(cw_client, cw_sim):
    configs = await _raw_configs(cw_client.app[SETTINGS].database_url)
    stored = configs["default"]["private_key"]
    assert stored.startswith(SEALED_PREFIX)
    assert cw_sim.private_key not in json.dumps(configs)
    # Only the PSA client opens it: the API key authenticates against the simulator.
    boards = await cw_client.app[PSA].for_account(await _account(cw_client)).list_boards()
    assert boards


async def test_a_restart_does_not_reseal_an_unchanged_key(aiohttp_client, cw_settings):
    from plugin.app import create_app

    first = await aiohttp_client(create_app(cw_settings()))
    before = (await _account(first)).psa_config
    second = await aiohttp_client(create_app(cw_settings()))
    assert (await _account(second)).psa_config == before  # replicas keep their clients


async def test_upgrade_seals_plain_keys_and_downgrade_opens_them(database_factory, monkeypatch):
    monkeypatch.delenv("FIXPILOT_SECRET_KEY", raising=False)
    url = await database_factory.empty()
    await upgrade(url, "0013")
    plain = {
        "api_url": "https://api-na.example.com/v4_6_release/apis/3.0/",
        "company_id": "acme",
        "public_key": "pub",
        "private_key": "priv-key-plain-0001",
        "client_id": "",
        "api_member_id": None,
    }
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO accounts (id, slug, name, psa_provider, psa_config, preferences, "
                "created_at, updated_at) VALUES (1, 'acme', 'Acme', 'connectwise', :config, "
                "'{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"config": json.dumps(plain)},
        )
    await engine.dispose()

    await upgrade(url, "0014")
    sealed = (await _raw_configs(url))["acme"]
    assert "priv-key-plain-0001" not in json.dumps(sealed)
    assert {k: v for k, v in sealed.items() if k != "private_key"} == {
        k: v for k, v in plain.items() if k != "private_key"
    }
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        secret = (
            await conn.execute(text("SELECT value FROM instance_secrets WHERE name='secret_key'"))
        ).scalar_one()  # generated: the service never started on this database
    await engine.dispose()
    box = SecretBox(secret)
    assert box.decrypt(sealed["private_key"].removeprefix(SEALED_PREFIX)) == "priv-key-plain-0001"

    await downgrade(url, "0013")
    assert (await _raw_configs(url))["acme"] == plain


async def test_upgrade_uses_the_configured_secret(database_factory, monkeypatch):
    monkeypatch.setenv("FIXPILOT_SECRET_KEY", NEW_SECRET)
    url = await database_factory.empty()
    await upgrade(url, "0013")
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO accounts (id, slug, name, psa_provider, psa_config, preferences, "
                "created_at, updated_at) VALUES (1, 'acme', 'Acme', 'connectwise', :config, "
                "'{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"config": json.dumps({"api_url": "https://x.example/", "company_id": "a",
                                   "public_key": "p", "private_key": "k-0001"})},
        )  # fmt: skip
    await engine.dispose()
    await upgrade(url, "0014")
    sealed = (await _raw_configs(url))["acme"]["private_key"]
    assert SecretBox(NEW_SECRET).decrypt(sealed.removeprefix(SEALED_PREFIX)) == "k-0001"
    monkeypatch.setenv("FIXPILOT_SECRET_KEY", "some-other-secret-0123456789-0123456789")
    with pytest.raises(RuntimeError, match="'acme'.*sealed with another instance secret"):
        await downgrade(url, "0013")


async def test_rotation_reseals_keys_and_session_secrets(
    aiohttp_client, cw_client, cw_settings, cw_sim, cw_engineer_headers
):
    from plugin.app import create_app

    old = cw_client.app[INSTANCE].secret_key
    database = db_of(cw_client)
    session_id = (await new_session(cw_client, cw_engineer_headers))["id"]
    async with database.write() as tx:
        await remember(
            tx, SecretBox(old), session_id, [Caught("hunter2-password-x", "password")],
            source="chat",
        )  # fmt: skip

    done = await rotate_instance_secret(database, [old], NEW_SECRET)
    assert (done.private_keys, done.session_secrets, done.unreadable) == (1, 1, 0)

    sealed_key = (await _account(cw_client)).psa_config["private_key"]
    async with database.read() as db:
        row = (await db.execute(text("SELECT ciphertext, digest FROM session_secrets"))).one()
        assert await recall(db, SecretBox(NEW_SECRET), session_id) == ["hunter2-password-x"]
        assert await recall(db, SecretBox(old), session_id) == []
    assert SecretBox(old).decrypt(sealed_key.removeprefix(SEALED_PREFIX)) is None
    assert SecretBox(old).decrypt(row.ciphertext) is None
    assert row.digest == SecretBox(NEW_SECRET).digest("hunter2-password-x")

    # An instance started with the new secret authenticates; one with only the old cannot.
    # (Neither brings the key in its environment, which would simply be sealed again.)
    def started_with(secret: str):
        return create_app(cw_settings(secret_key=SecretStr(secret), cw_private_key=None))

    rotated = await aiohttp_client(started_with(NEW_SECRET))
    assert await rotated.app[PSA].for_account(await _account(rotated)).list_boards()
    stale = await aiohttp_client(started_with(old))
    with pytest.raises(PSAAuthError):
        await stale.app[PSA].for_account(await _account(stale)).list_boards()


async def test_a_configured_secret_takes_over_keys_sealed_with_the_generated_one(
    aiohttp_client, cw_client, cw_settings, cw_sim
):
    """An upgrade that ran without the configured secret sealed with the generated one; the
    next start with the configured secret seals them again under it."""
    from plugin.app import create_app

    # Without the key in its environment: the stored one is what is sealed again.
    settings = cw_settings(secret_key=SecretStr(NEW_SECRET), cw_private_key=None)
    configured = await aiohttp_client(create_app(settings))
    sealed = (await _account(configured)).psa_config["private_key"]
    assert SecretBox(NEW_SECRET).decrypt(sealed.removeprefix(SEALED_PREFIX)) == cw_sim.private_key
    assert await configured.app[PSA].for_account(await _account(configured)).list_boards()


def test_rotate_command(tmp_path, database_url):
    env = _env(database_url, FIXPILOT_NEW_CW_PRIVATE_KEY="SuperSecretPrivate1")
    added = _cli(
        "accounts", "add", "acme", "--cw-url", "https://api-na.example.com/v4_6_release/apis/3.0/",
        "--cw-company-id", "acme", "--cw-public-key", "pub", env=env, cwd=tmp_path,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    short = tmp_path / "short"
    short.write_text("too-short\n")
    refused = _cli("secrets", "rotate", "--new-secret-file", str(short), env=env, cwd=tmp_path)
    assert refused.returncode == 2 and "at least 32 characters" in refused.stderr
    missing = _cli("secrets", "rotate", "--new-secret-file", "nope", env=env, cwd=tmp_path)
    assert missing.returncode == 2 and "cannot read --new-secret-file" in missing.stderr

    secret_file = tmp_path / "secret"
    secret_file.write_text(NEW_SECRET + "\n")
    rotated = _cli(
        "secrets", "rotate", "--new-secret-file", str(secret_file), env=env, cwd=tmp_path
    )
    assert rotated.returncode == 0, rotated.stderr
    assert "1 PSA private key(s)" in rotated.stdout
    assert f"FIXPILOT_SECRET_KEY_FILE={secret_file}" in rotated.stdout

    with_file = {**env, "FIXPILOT_SECRET_KEY_FILE": str(secret_file)}
    shown = _cli("accounts", "show", "acme", env=with_file, cwd=tmp_path)
    assert json.loads(shown.stdout)["psa_connection"]["private_key"] == "****ate1"
    unreadable = {**env, "FIXPILOT_SECRET_KEY_FILE": str(tmp_path / "absent")}
    failed = _cli("accounts", "show", "acme", env=unreadable, cwd=tmp_path)
    assert failed.returncode == 2 and "FIXPILOT_SECRET_KEY_FILE" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_doctor_warns_about_a_generated_secret():
    report = Report()
    check_instance_secret(False, report)
    check_instance_secret(True, report)
    warned, fine = report.lines
    assert warned.ok and warned.warning and "fixpilot secrets rotate" in warned.why
    assert str(warned).startswith("WARN ")
    assert fine.ok and not fine.warning
    assert report.failures == 0  # a warning is not a failed check


async def test_the_admin_doctor_shows_the_warning(cw_client, cw_admin_headers):
    resp = await cw_client.get("/api/v1/admin/doctor", headers=cw_admin_headers)
    assert resp.status == 200, await resp.text()
    last = (await resp.json())["lines"][-1]
    assert last["warning"] is True and last["what"].startswith("Instance secret")


async def test_connectwise_doctor_warns_about_a_generated_secret(cw_settings, cw_sim, capsys):
    import asyncio

    from plugin.cli.connectwise import doctor

    settings = cw_settings(public_url="https://fixpilot.example.com")
    await asyncio.to_thread(doctor, settings, account="default", fix=False)
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("WARN Instance secret") and "FIXPILOT_SECRET_KEY_FILE" in last

    configured = cw_settings(
        public_url="https://fixpilot.example.com", secret_key=SecretStr(NEW_SECRET)
    )
    await asyncio.to_thread(doctor, configured, account="default", fix=False)
    assert capsys.readouterr().out.splitlines()[-1].startswith("ok   Instance secret")
