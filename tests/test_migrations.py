"""The schema's history: a database populated at revision 1 upgrades without losing rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from plugin.kernel.migrate import head_revision, upgrade

FIVE = ["suggested", "applied_success", "applied_failed", "applied_partial", "dismissed"]
NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def _populate_revision_1(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO accounts (id, slug, name, psa_provider, preferences, created_at, "
                "updated_at) VALUES (1, 'default', 'Default', 'local', '{}', :now, :now)"
            ),
            {"now": NOW},
        )
        for sid in range(1, len(FIVE) + 1):
            await conn.execute(
                text(
                    "INSERT INTO ai_sessions (id, account_id, title, status, state_version, "
                    "created_at, updated_at) VALUES (:id, 1, :title, 'active', 3, :now, :now)"
                ),
                {"id": sid, "title": f"session {sid}", "now": NOW},
            )
        for fid, status in enumerate(FIVE, start=1):
            await conn.execute(
                text(
                    "INSERT INTO suggested_fixes (id, session_id, title, summary, confidence, "
                    "status, partial_notes, created_at, updated_at) VALUES "
                    "(:id, :sid, :title, 'summary', 70, :status, :notes, :now, :now)"
                ),
                {
                    "id": fid,
                    "sid": fid,
                    "title": f"fix {status}",
                    "status": status,
                    "notes": "printer 2 still offline" if status == "applied_partial" else None,
                    "now": NOW,
                },
            )
    await engine.dispose()


async def test_upgrade_from_revision_1_keeps_every_row(database_factory):
    url = await database_factory.empty()
    await upgrade(url, "0001")
    await _populate_revision_1(url)

    engine = create_async_engine(url)
    async with engine.connect() as conn:
        with pytest.raises(IntegrityError):
            await conn.execute(
                text("UPDATE suggested_fixes SET status = 'applied_pending' WHERE id = 1")
            )
        await conn.rollback()
    await engine.dispose()

    await upgrade(url)

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
            assert version == head_revision()
            rows = (
                await conn.execute(
                    text(
                        "SELECT id, session_id, title, status, partial_notes, pending_reason "
                        "FROM suggested_fixes ORDER BY id"
                    )
                )
            ).all()
            assert [(r.id, r.session_id, r.status) for r in rows] == [
                (i, i, s) for i, s in enumerate(FIVE, start=1)
            ]
            assert rows[3].partial_notes == "printer 2 still offline"
            assert all(r.pending_reason is None for r in rows)
            sessions = (await conn.execute(text("SELECT count(*) FROM ai_sessions"))).scalar()
            assert sessions == len(FIVE)

        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE suggested_fixes SET status = 'applied_pending', "
                    "pending_reason = 'user to confirm after reboot' WHERE id = 1"
                )
            )
        async with engine.connect() as conn:
            with pytest.raises(IntegrityError):
                await conn.execute(text("UPDATE suggested_fixes SET status = 'bogus' WHERE id = 2"))
            await conn.rollback()

        # The one-active-fix index survived the table copy (SQLite batch mode).
        async with engine.connect() as conn:
            with pytest.raises(IntegrityError):
                await conn.execute(
                    text(
                        "INSERT INTO suggested_fixes (session_id, title, summary, status, "
                        "created_at, updated_at) VALUES (1, 'second', '', 'suggested', :n, :n)"
                    ),
                    {"n": NOW},
                )
            await conn.rollback()
    finally:
        await engine.dispose()


async def test_migrate_is_idempotent(database_factory):
    url = await database_factory.empty()
    await upgrade(url)
    await upgrade(url)
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar() == (
            head_revision()
        )
    await engine.dispose()


async def test_models_match_the_migrated_schema(database_factory):
    """Autogenerate finds nothing to do at head, column types included, on the backend under
    test: the migrations and the models agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from plugin.models import Base, compared_with_models

    url = await database_factory.empty()
    await upgrade(url)
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        result = await conn.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(
                    sync, opts={"compare_type": True, "include_name": compared_with_models}
                ),
                Base.metadata,
            )
        )
    await engine.dispose()
    assert result == []


async def test_d3_ids_beyond_32_bits_fit_every_id_column(database_factory):
    """0011 widens ids on PostgreSQL (columns and the sequences behind them); a session, a
    message and a fact with ids past 2^31 are stored and read back on both backends."""
    from plugin.kernel.migrate import downgrade

    url = await database_factory.empty()
    await upgrade(url, "0010")
    await upgrade(url)
    big = 2**62 + 7
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO accounts (id, slug, name, psa_provider, preferences, created_at, "
                "updated_at) VALUES (:id, 'big', 'Big', 'local', '{}', :now, :now)"
            ),
            {"id": big, "now": NOW},
        )
        await conn.execute(
            text(
                "INSERT INTO ai_sessions (id, account_id, title, status, state_version, "
                "created_at, updated_at) VALUES (:id, :id, 'big', 'active', 1, :now, :now)"
            ),
            {"id": big, "now": NOW},
        )
        if engine.dialect.name == "postgresql":
            # The sequence can hand out ids past 2^31 too.
            await conn.execute(text("SELECT setval(pg_get_serial_sequence('facts', 'id'), :v)"),
                               {"v": 2**40})  # fmt: skip
            kinds = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM information_schema.columns WHERE "
                        "table_schema = 'public' AND (column_name = 'id' OR column_name LIKE "
                        "'%\\_id' ESCAPE '\\') AND data_type = 'integer' AND table_name <> "
                        "'alembic_version'"
                    )
                )
            ).scalar()
            assert kinds == 0
        await conn.execute(
            text(
                "INSERT INTO facts (session_id, text, source, created_at, updated_at) "
                "VALUES (:id, 'disk full', 'engineer', :now, :now)"
            ),
            {"id": big, "now": NOW},
        )
        fact_id = (await conn.execute(text("SELECT max(id) FROM facts"))).scalar()
        assert fact_id >= (2**40 if engine.dialect.name == "postgresql" else 1)
        stored = (
            await conn.execute(
                text("SELECT account_id FROM ai_sessions WHERE id = :id"), {"id": big}
            )
        ).scalar()
        assert stored == big
        await conn.execute(text("DELETE FROM accounts WHERE id = :id"), {"id": big})
        if engine.dialect.name == "postgresql":
            await conn.execute(text("SELECT setval(pg_get_serial_sequence('facts', 'id'), 1)"))
    await engine.dispose()
    await downgrade(url, "0010")  # back to 32 bits once no id needs more
    await upgrade(url)


async def test_psa_connections_move_into_psa_config_and_back(database_factory):
    """0003 carries each account's ConnectWise columns into `psa_config` (private key
    included, never lost) and a downgrade puts them back; a local account stays local."""
    from plugin.kernel.migrate import downgrade

    url = await database_factory.empty()
    await upgrade(url, "0002")
    columns = (
        "cw_api_url, cw_company_id, cw_public_key, cw_private_key, cw_client_id, cw_api_member_id"
    )
    acme = ("https://api-na.example.com/v4_6_release/apis/3.0/", "acme", "pub", "priv-key-1",
            "client-1", "fixpilot_api")  # fmt: skip
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                f"INSERT INTO accounts (id, slug, name, psa_provider, {columns}, preferences, "
                "created_at, updated_at) VALUES (1, 'acme', 'Acme', 'connectwise', :u, :c, :p, "
                ":k, :i, :m, '{}', :now, :now)"
            ),
            dict(zip("ucpkim", acme, strict=True), now=NOW),
        )
        await conn.execute(
            text(
                "INSERT INTO accounts (id, slug, name, psa_provider, preferences, created_at, "
                "updated_at) VALUES (2, 'solo', 'Solo', 'local', '{}', :now, :now)"
            ),
            {"now": NOW},
        )
    await engine.dispose()

    await upgrade(url, "0003")
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT slug, psa_provider, psa_config FROM accounts ORDER BY id")
            )
        ).all()
    await engine.dispose()
    config = (
        rows[0].psa_config
        if isinstance(rows[0].psa_config, dict)
        else json.loads(rows[0].psa_config)
    )
    assert rows[0].psa_provider == "connectwise"
    assert config == dict(
        zip(("api_url", "company_id", "public_key", "private_key", "client_id", "api_member_id"),
            acme, strict=True)
    )  # fmt: skip
    assert (rows[1].psa_provider, rows[1].psa_config) == ("local", None)

    await downgrade(url, "0002")
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        back = (
            await conn.execute(text(f"SELECT psa_provider, {columns} FROM accounts ORDER BY id"))
        ).all()
    await engine.dispose()
    assert tuple(back[0]) == ("connectwise", *acme)
    assert tuple(back[1]) == ("local", None, None, None, None, None, None)


async def test_note_authors_and_library_versions_upgrade_and_downgrade(database_factory):
    """0006 adds the shipped library's versions and the writebacks' authors: a pod member's
    writeback gets its author, an API token's none; no row is lost either way."""
    from plugin.kernel.migrate import downgrade

    url = await database_factory.empty()
    await upgrade(url, "0003")
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO accounts (id, slug, name, psa_provider, preferences, created_at, "
                "updated_at) VALUES (1, 'default', 'Default', 'local', '{}', :now, :now)"
            ),
            {"now": NOW},
        )
        await conn.execute(
            text(
                "INSERT INTO ai_sessions (id, account_id, title, status, state_version, "
                "created_at, updated_at) VALUES (1, 1, 's', 'resolved', 3, :now, :now)"
            ),
            {"now": NOW},
        )
        for wid, created_by in ((1, "jsmith"), (2, "token:3"), (3, None)):
            await conn.execute(
                text(
                    "INSERT INTO writebacks (id, account_id, session_id, kind, markdown, stage, "
                    "state, note_uncertain, attempts, created_by, created_at, updated_at) "
                    "VALUES (:id, 1, 1, 'resolution', 'note', 'done', 'done', false, 1, :by, "
                    ":now, :now)"
                ),
                {"id": wid, "by": created_by, "now": NOW},
            )
        await conn.execute(
            text(
                "INSERT INTO script_templates (id, account_id, slug, name, description, "
                "keywords, language, body, parameters_schema, origin, created_at, updated_at) "
                "VALUES (1, 1, 'restart-print-spooler', 'Spooler', '', '[]', 'powershell', "
                "'Restart-Service Spooler', '[]', 'library', :now, :now)"
            ),
            {"now": NOW},
        )
    await engine.dispose()

    await upgrade(url, "0006")
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        authors = (
            await conn.execute(text("SELECT id, author_member_id FROM writebacks ORDER BY id"))
        ).all()
        template = (
            await conn.execute(
                text("SELECT slug, library_version, edited_at FROM script_templates")
            )
        ).one()
    await engine.dispose()
    assert [tuple(row) for row in authors] == [(1, "jsmith"), (2, None), (3, None)]
    # An existing copy stays unversioned: the shipped library adopts it only if unchanged.
    assert tuple(template) == ("restart-print-spooler", None, None)

    await downgrade(url, "0003")
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        kept = (await conn.execute(text("SELECT created_by FROM writebacks ORDER BY id"))).all()
        templates = (await conn.execute(text("SELECT count(*) FROM script_templates"))).scalar()
        columns = (await conn.execute(text("SELECT * FROM writebacks"))).keys()
    await engine.dispose()
    assert [row[0] for row in kept] == ["jsmith", "token:3", None] and templates == 1
    assert "author_member_id" not in columns


async def test_similar_work_and_kb_articles_migrate_up_and_down(database_factory):
    """0007 (the similar-work index, per backend) and 0007b (KB articles, `kb_article`
    previews) on a populated database, and back to 0006 without losing the older rows."""
    from plugin.features.search.documents import WorkDocument
    from plugin.features.search.index import put_documents
    from plugin.features.search.search import Ranking, SimilarIndex
    from plugin.kernel.db import Database
    from plugin.kernel.migrate import downgrade
    from plugin.kernel.states import WorkOutcome, WorkSource

    url = await database_factory.empty()
    await upgrade(url, "0003")
    await _populate_revision_1(url)
    await upgrade(url, "0006")  # 0004 drops previews made before redaction: add one after
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO note_previews (session_id, kind, state_version, markdown, "
                "generator, created_at) VALUES (1, 'resolution_note', 3, '## Problem', "
                "'offline', :now)"
            ),
            {"now": NOW},
        )
    await engine.dispose()

    await upgrade(url)
    database = Database(url)
    async with database.write() as tx:
        await put_documents(
            tx,
            1,
            [
                WorkDocument(
                    doc_key="ticket:4711",
                    source=WorkSource.HISTORY,
                    summary="print spooler hangs every morning",
                    outcome=WorkOutcome.RESOLVED,
                    closed_at=NOW,
                    psa_ticket_id=4711,
                )
            ],
        )
        await tx.execute(
            text(
                "INSERT INTO note_previews (session_id, kind, state_version, markdown, "
                "generator, created_at) VALUES (1, 'kb_article', 3, '## Symptoms', 'offline', :now)"
            ),
            {"now": NOW},
        )
        await tx.execute(
            text(
                "INSERT INTO kb_articles (account_id, session_id, state_version, title, markdown, "
                "created_at, updated_at) VALUES (1, 1, 3, 't', '## Symptoms', :now, :now)"
            ),
            {"now": NOW},
        )
    async with database.read() as db:
        found = await SimilarIndex().search_ids(db, 1, "spooler hang", ranking=Ranking.TEXT)
    assert len(found) == 1
    await database.dispose()

    await downgrade(url, "0006")
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        kinds = (await conn.execute(text("SELECT kind FROM note_previews"))).scalars().all()
        assert kinds == ["resolution_note"]
        assert (await conn.execute(text("SELECT count(*) FROM suggested_fixes"))).scalar() == 5
        with pytest.raises(Exception, match="resolved_work"):
            await conn.execute(text("SELECT count(*) FROM resolved_work"))
    await engine.dispose()
    await upgrade(url)


async def test_failure_reasons_and_checks_migrate_up_and_down(database_factory):
    """0010 on a populated database: every fix keeps its row (no failure reason yet), checks
    are stored against messages and facts; back to 0007b, the fixes are still there."""
    from plugin.kernel.migrate import downgrade

    url = await database_factory.empty()
    await upgrade(url, "0003")
    await _populate_revision_1(url)
    await upgrade(url, "0007b")
    await upgrade(url)
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        reasons = (await conn.execute(text("SELECT failure_reason FROM suggested_fixes"))).all()
        assert [r[0] for r in reasons] == [None] * len(FIVE)
        await conn.execute(
            text("UPDATE suggested_fixes SET failure_reason = 'jams again' WHERE id = 3")
        )
        await conn.execute(
            text(
                "INSERT INTO facts (id, session_id, text, source, created_at, updated_at) "
                "VALUES (1, 1, 'Spooler: stopped', 'engineer', :now, :now)"
            ),
            {"now": NOW},
        )
        await conn.execute(
            text(
                "INSERT INTO diagnostic_checks (session_id, text, status, result, fact_id, "
                "created_at, updated_at) VALUES (1, 'Spooler?', 'done', 'stopped', 1, :now, :now)"
            ),
            {"now": NOW},
        )
        with pytest.raises(IntegrityError):
            async with conn.begin_nested():
                await conn.execute(
                    text(
                        "INSERT INTO diagnostic_checks (session_id, text, status, created_at, "
                        "updated_at) VALUES (1, 'x', 'maybe', :now, :now)"
                    ),
                    {"now": NOW},
                )
    await engine.dispose()

    await downgrade(url, "0007b")
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM suggested_fixes"))).scalar() == 5
        assert (await conn.execute(text("SELECT count(*) FROM facts"))).scalar() == 1
        with pytest.raises(Exception, match="diagnostic_checks"):
            await conn.execute(text("SELECT count(*) FROM diagnostic_checks"))
    await engine.dispose()
    await upgrade(url)
