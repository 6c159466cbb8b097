"""Rotating the instance secret with the replicas running: fallback secrets open what they
sealed and seal nothing, so every replica reads every value while the rotation rolls out,
and `fixpilot secrets reseal` ends it. Black-box where a secret could leak: against the
real Anthropic SDK talking to the fake Messages API."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from plugin.features.accounts.service import SecretKeyError, fallback_secrets, stored_secret
from plugin.kernel.appkeys import INSTANCE, PSA
from plugin.kernel.secret_memory import SEALED_PREFIX, SecretBox, SessionSecret, pasted_value
from tests.conftest import _token
from tests.fake_anthropic import FakeAnthropic
from tests.helpers import db_of, new_session
from tests.test_cli import _cli, _env
from tests.test_keys_at_rest import _account
from tests.test_secret_paths import PASSPHRASE, _say, _sent

OLD = "the-old-instance-secret-0123456789-abcdefghij"
NEW = "the-new-instance-secret-0123456789-klmnopqrst"
OTHER = "purple monkey dishwasher lamp"  # as PASSPHRASE: caught only when quoted as one


@pytest.fixture
def llm_app(aiohttp_client, make_settings, fake_anthropic):
    """A replica of one installation (one database) started with the given settings."""
    from plugin.app import create_app

    async def start(**overrides):
        settings = make_settings(
            anthropic_api_key=SecretStr("sk-ant-test-0000"),
            anthropic_base_url=fake_anthropic.base_url,
            llm_retry_backoff_seconds=0.01,
            **overrides,
        )
        return await aiohttp_client(create_app(settings))

    return start


async def _rows(client) -> list[SessionSecret]:
    async with db_of(client).read() as db:
        return list((await db.execute(select(SessionSecret))).scalars())


async def test_a_configured_secret_replacing_the_generated_one_still_scrubs_what_it_sealed(
    llm_app, fake_anthropic, database_url, tmp_path
):
    """The doctor says to configure a secret; a restart with one must not forget what the
    generated secret sealed, or a secret written bare later would reach the model."""
    generated = await llm_app()
    headers = {"Authorization": f"Bearer {await _token(generated, 'engineer')}"}
    sid = (await new_session(generated, headers))["id"]
    fake_anthropic.script(FakeAnthropic.text("Noted."), FakeAnthropic.text("Try it again."))
    await _say(generated, headers, sid, f'The kiosk wifi passphrase is "{PASSPHRASE}".')

    configured = await llm_app(secret_key=SecretStr(NEW))
    await _say(configured, headers, sid, f"so {PASSPHRASE} did not work on the kiosk")

    assert len(fake_anthropic.requests) == 2
    assert PASSPHRASE not in _sent(fake_anthropic)
    assert configured.app[INSTANCE].fallbacks == (generated.app[INSTANCE].secret_key,)

    # `secrets reseal` seals it under the configured secret, and the generated secret, which
    # no longer seals anything, leaves the database.
    env = _env(database_url, FIXPILOT_SECRET_KEY=NEW)
    done = await asyncio.to_thread(_cli, "secrets", "reseal", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert await stored_secret(db_of(configured)) is None
    resealed = await llm_app(secret_key=SecretStr(NEW))
    assert resealed.app[INSTANCE].fallbacks == ()
    fake_anthropic.script(FakeAnthropic.text("Noted."))
    await _say(resealed, headers, sid, f"{PASSPHRASE}, still")
    assert PASSPHRASE not in _sent(fake_anthropic)


async def test_a_rotation_rolls_out_with_every_replica_reading_every_value(
    llm_app, fake_anthropic, database_url, tmp_path
):
    fake_anthropic.script(*(FakeAnthropic.text("Noted.") for _ in range(6)))
    # Before: every replica on the old secret.
    before = await llm_app(secret_key=SecretStr(OLD))
    headers = {"Authorization": f"Bearer {await _token(before, 'engineer')}"}
    sid = (await new_session(before, headers))["id"]
    await _say(before, headers, sid, f'The kiosk wifi passphrase is "{PASSPHRASE}".')
    # Step 1: the new secret is accepted everywhere before any replica seals with it.
    step1 = await llm_app(secret_key=SecretStr(OLD), secret_key_fallbacks=SecretStr(NEW))
    # Step 2: replicas move to the new secret one by one, keeping the old as a fallback.
    step2 = await llm_app(secret_key=SecretStr(NEW), secret_key_fallbacks=SecretStr(OLD))
    await _say(step2, headers, sid, f'the backup passphrase is "{OTHER}"; {PASSPHRASE} again')
    pasted = await step2.post(  # the same value, pasted now: sealed under the new secret
        f"/api/v1/ai-sessions/{sid}/secrets",
        json={"label": "kiosk wifi", "value": PASSPHRASE},
        headers=headers,
    )
    assert pasted.status == 201, await pasted.text()
    pasted_id = (await pasted.json())["id"]
    # A replica still at step 1 reads what the new secret sealed.
    await _say(step1, headers, sid, f"{OTHER} and {PASSPHRASE}, both bare")

    sent = _sent(fake_anthropic)
    assert PASSPHRASE not in sent and OTHER not in sent
    rows = await _rows(step2)
    opened = [SecretBox(NEW, OLD).decrypt(r.ciphertext) for r in rows]
    assert sorted(opened) == sorted([PASSPHRASE, PASSPHRASE, OTHER])  # once per secret

    # Step 3: everything sealed under the new secret; the old one opens nothing after it.
    env = _env(database_url, FIXPILOT_SECRET_KEY=NEW, FIXPILOT_SECRET_KEY_FALLBACKS=f"  {OLD}\n")
    done = await asyncio.to_thread(_cli, "secrets", "reseal", env=env, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "3 remembered session secret(s)" in done.stdout
    assert "the fallbacks can be removed" in done.stdout
    rows = {r.id: r for r in await _rows(step2)}
    new = SecretBox(NEW)
    assert sorted(new.decrypt(r.ciphertext) for r in rows.values()) == sorted(
        [PASSPHRASE, PASSPHRASE, OTHER]
    )
    # The pasted row (a script parameter may refer to its id) keeps its label and the
    # digest; the other copy keeps a digest no new value will have.
    assert (rows[pasted_id].label, rows[pasted_id].digest) == ("kiosk wifi", new.digest(PASSPHRASE))
    async with db_of(step2).read() as db:
        assert await pasted_value(db, new, sid, pasted_id) == PASSPHRASE
    assert len({r.digest for r in rows.values()}) == 3
    after = await llm_app(secret_key=SecretStr(NEW))  # the fallback removed
    fake_anthropic.script(FakeAnthropic.text("Noted."))
    await _say(after, headers, sid, f"{OTHER}, {PASSPHRASE}")
    assert PASSPHRASE not in _sent(fake_anthropic) and OTHER not in _sent(fake_anthropic)


async def test_reseal_says_what_no_secret_it_holds_could_open(llm_app, database_url, tmp_path):
    before = await llm_app(secret_key=SecretStr(OLD))
    headers = {"Authorization": f"Bearer {await _token(before, 'engineer')}"}
    sid = (await new_session(before, headers))["id"]
    resp = await before.post(
        f"/api/v1/ai-sessions/{sid}/secrets",
        json={"label": "kiosk", "value": "a pasted secret value 123"},
        headers=headers,
    )
    assert resp.status == 201, await resp.text()

    env = _env(database_url, FIXPILOT_SECRET_KEY=NEW)  # the old secret not given
    done = await asyncio.to_thread(_cli, "secrets", "reseal", env=env, cwd=tmp_path)

    assert done.returncode == 1
    assert "1 value(s) no old secret opens" in done.stdout
    assert "FIXPILOT_SECRET_KEY_FALLBACKS" in done.stdout
    (row,) = await _rows(before)
    assert SecretBox(OLD).decrypt(row.ciphertext) == "a pasted secret value 123"  # untouched


async def test_psa_keys_sealed_under_a_fallback_are_sealed_again_at_start(
    aiohttp_client, cw_settings
):
    from plugin.app import create_app

    old = await aiohttp_client(create_app(cw_settings(secret_key=SecretStr(OLD))))
    sealed = (await _account(old)).psa_config["private_key"]
    assert SecretBox(OLD).decrypt(sealed.removeprefix(SEALED_PREFIX))

    # Started without the key in its environment: only the stored one can sign in.
    settings = cw_settings(
        secret_key=SecretStr(NEW), secret_key_fallbacks=SecretStr(OLD), cw_private_key=None
    )
    new = await aiohttp_client(create_app(settings))

    resealed = (await _account(new)).psa_config["private_key"]
    assert SecretBox(NEW).decrypt(resealed.removeprefix(SEALED_PREFIX))
    assert await new.app[PSA].for_account(await _account(new)).list_boards()


def test_fallbacks_are_read_from_the_environment_and_a_file(make_settings, tmp_path):
    listed = tmp_path / "fallbacks"
    listed.write_text(f"{OLD}\n\n{NEW}\n{OLD}\n")
    settings = make_settings(
        secret_key_fallbacks=SecretStr(f"first-one\tsecond-one {OLD}"),
        secret_key_fallbacks_file=listed,
    )
    assert fallback_secrets(settings) == ("first-one", "second-one", OLD, NEW)

    missing = make_settings(secret_key_fallbacks_file=tmp_path / "absent")
    with pytest.raises(SecretKeyError, match="FIXPILOT_SECRET_KEY_FALLBACKS_FILE"):
        fallback_secrets(missing)


def test_rotate_to_a_fallback_is_allowed_and_to_the_current_secret_is_not(database_url, tmp_path):
    env = _env(database_url, FIXPILOT_SECRET_KEY=OLD, FIXPILOT_SECRET_KEY_FALLBACKS=NEW)
    current, fallback = tmp_path / "current", tmp_path / "fallback"
    current.write_text(OLD)
    fallback.write_text(NEW)

    refused = _cli("secrets", "rotate", "--new-secret-file", str(current), env=env, cwd=tmp_path)
    done = _cli("secrets", "rotate", "--new-secret-file", str(fallback), env=env, cwd=tmp_path)

    assert refused.returncode == 2 and "the new secret is the current one" in refused.stderr
    assert done.returncode == 0, done.stderr
