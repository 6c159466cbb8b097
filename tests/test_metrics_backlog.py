"""/metrics shows the backlog (callback events pending and dead, writebacks open and stuck,
each with the age of its oldest), across accounts, and the sign-in and key-fetch counters."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from plugin.features.callbacks.models import PSACallbackEvent
from plugin.features.writeback.models import Writeback
from plugin.kernel.db import utcnow
from plugin.kernel.tenancy import Account
from tests.helpers import db_of, new_session, resources_of


@pytest.fixture
async def quiet_client(aiohttp_client, make_settings):
    """An app whose embedded workers look once at start-up, then leave the rows alone."""
    from plugin.app import create_app

    return await aiohttp_client(create_app(make_settings(worker_poll_seconds=3600)))


@pytest.fixture
async def quiet_admin(quiet_client) -> dict[str, str]:
    from tests.conftest import _token

    return {"Authorization": f"Bearer {await _token(quiet_client, 'admin')}"}


async def _scrape(client) -> dict[str, float]:
    resp = await client.get("/metrics")
    assert resp.status == 200
    samples = {}
    for family in text_string_to_metric_families(await resp.text()):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


async def test_backlog_gauges_show_counts_and_the_oldest_age_across_accounts(
    quiet_client, quiet_admin
):
    client = quiet_client
    s = await new_session(client, quiet_admin)
    now = utcnow()
    ago = lambda seconds: now - timedelta(seconds=seconds)  # noqa: E731
    later = now + timedelta(hours=1)
    async with db_of(client).write() as db:
        other = Account(slug="other-msp", name="Other MSP", preferences={})
        db.add(other)
        await db.flush()
        for n, (account, status, age) in enumerate(
            [
                (1, "pending", 600),
                (1, "processing", 300),
                (1, "dead", 1200),
                (other.id, "dead", 100),
                (1, "done", 5000),
                (1, "ignored", 7000),
            ]
        ):
            db.add(
                PSACallbackEvent(
                    account_id=account,
                    dedupe_key=f"k{n}",
                    event_type="ticket",
                    action="updated",
                    payload={},
                    status=status,
                    next_attempt_at=later,
                    lease_until=later if status == "processing" else None,
                    received_at=ago(age),
                )
            )
        for state, age, lease in [
            ("waiting_retry", 2400, None),
            ("failed", 100, None),
            ("note_posted", 50, ago(10)),  # its runner's lease ran out: stuck
            ("pending", 4000, later),  # held by a live runner: open, not stuck
            ("done", 9000, None),
            ("cancelled", 8000, None),
        ]:
            db.add(
                Writeback(
                    account_id=1,
                    session_id=s["id"],
                    kind="resolution",
                    ticket_id=5001,
                    markdown="note",
                    state=state,
                    attempts=1,
                    next_attempt_at=later,
                    lease_until=lease,
                    created_at=ago(age),
                )
            )

    samples = await _scrape(client)
    assert samples["fixpilot_backlog_scrape_ok"] == 1
    expected = {
        "callback_events_pending": (2, 600),
        "callback_events_dead": (2, 1200),
        "writebacks_open": (4, 4000),
        "writebacks_stuck": (3, 2400),
    }
    for name, (count, oldest) in expected.items():
        assert samples[f"fixpilot_{name}"] == count, name
        age = samples[f"fixpilot_{name}_oldest_age_seconds"]
        assert oldest <= age < oldest + 30, (name, age)


async def test_backlog_gauges_are_zero_when_nothing_waits(quiet_client):
    samples = await _scrape(quiet_client)
    for name in ("callback_events_pending", "callback_events_dead", "writebacks_open"):
        assert samples[f"fixpilot_{name}"] == 0
        assert samples[f"fixpilot_{name}_oldest_age_seconds"] == 0


async def test_backlog_is_read_at_most_once_per_interval_whoever_scrapes(quiet_client, quiet_admin):
    """/metrics is public: a flood of scrapes costs the database one read per interval."""
    client = quiet_client
    assert (await _scrape(client))["fixpilot_writebacks_open"] == 0
    s = await new_session(client, quiet_admin)
    async with db_of(client).write() as db:
        db.add(
            Writeback(
                account_id=1, session_id=s["id"], kind="resolution", markdown="n", state="failed"
            )
        )
    assert (await _scrape(client))["fixpilot_writebacks_open"] == 0  # within the interval
    resources_of(client.app).metrics.backlog_read_at -= 60
    assert (await _scrape(client))["fixpilot_writebacks_open"] == 1


async def test_signin_and_key_fetch_counters_are_exported(quiet_client):
    metrics = resources_of(quiet_client.app).metrics
    text = await (await quiet_client.get("/metrics")).text()
    assert "# TYPE fixpilot_signin_failures_total counter" in text
    assert "# TYPE fixpilot_signing_key_fetches_total counter" in text
    metrics.signin_failures.labels("bad_hash").inc(3)
    metrics.signing_key_fetches.labels("ok").inc()
    samples = await _scrape(quiet_client)
    assert samples["fixpilot_signin_failures_total{reason=bad_hash}"] == 3
    assert samples["fixpilot_signing_key_fetches_total{result=ok}"] == 1


async def test_the_readme_alert_rules_use_metrics_that_exist(quiet_client):
    import re
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    block = readme.split("### Monitoring", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    text = await (await quiet_client.get("/metrics")).text()
    exported = set(re.findall(r"^# TYPE (\w+) (\w+)", text, re.M))
    names = {name for name, _ in exported} | {
        f"{name}_total" for name, kind in exported if kind == "counter"
    }
    used = set(re.findall(r"fixpilot_\w+", block))
    assert block.count("- alert: Fixpilot") >= 5 and used
    assert used <= names, used - names
