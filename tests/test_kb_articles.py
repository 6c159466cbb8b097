"""KB article drafts: allowed on a closed session, cached by state and redacted; posting is
idempotent per state and, where the account enables it, creates the article in
ConnectWise's knowledge base once."""

from __future__ import annotations

from tests.test_similar_work import close_session

SECRET = "Tr0ub4dor-Zebra-9931"


async def _preview(client, headers, sid):
    resp = await client.post(f"/api/v1/ai-sessions/{sid}/kb-article/preview", headers=headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def _post(client, headers, sid, **body):
    resp = await client.post(
        f"/api/v1/ai-sessions/{sid}/kb-article/post", json=body, headers=headers
    )
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def _closed(client, headers, **session):
    return await close_session(
        client,
        headers,
        "Outlook keeps asking for the password",
        facts=["AAD BrokerPlugin folder corrupt", f"svc password={SECRET} in the GPO script"],
        fixes=[
            ("Clear cached credentials", "applied_failed"),
            ("Reset the BrokerPlugin", "applied_success"),
        ],
        cause="Corrupt AAD BrokerPlugin token cache.",
        resolution="Renamed the BrokerPlugin folder and signed in again.",
        **session,
    )


async def test_a_closed_session_drafts_a_redacted_article_cached_by_state(client, engineer_headers):
    sid = await _closed(client, engineer_headers)
    first = await _preview(client, engineer_headers, sid)
    assert first["from_cache"] is False and first["generator"] == "offline"
    markdown = first["markdown"]
    for heading in ("## Symptoms", "## Cause", "## Steps", "## Script", "## Applies to"):
        assert heading in markdown
    assert "Corrupt AAD BrokerPlugin token cache." in markdown
    assert "Reset the BrokerPlugin" in markdown and "Clear cached credentials" in markdown
    assert SECRET not in markdown and "[REDACTED]" in markdown
    assert first["title"] == "Outlook keeps asking for the password"

    again = await _preview(client, engineer_headers, sid)
    assert again["from_cache"] is True and again["markdown"] == markdown
    assert again["state_version"] == first["state_version"]


async def test_posting_is_idempotent_per_state(client, engineer_headers):
    sid = await _closed(client, engineer_headers)
    edited = f"## Symptoms\nPrompts.\n\n## Cause\nToken cache, password={SECRET}.\n\n## Steps\n1. Reset.\n\n## Script\nNone.\n\n## Applies to\nOutlook."
    posted = await _post(
        client, engineer_headers, sid, markdown=edited, title="Outlook prompt loop"
    )
    assert posted["external_id"] is None and posted["article_id"] > 0
    again = await _post(client, engineer_headers, sid, markdown="## Symptoms\nother")
    assert again["article_id"] == posted["article_id"]

    from sqlalchemy import select

    from plugin.features.notes.kb_article import KBArticle
    from tests.helpers import db_of

    async with db_of(client).read() as db:
        [article] = (await db.execute(select(KBArticle))).scalars().all()
    assert article.title == "Outlook prompt loop"
    assert "Token cache" in article.markdown and SECRET not in article.markdown


async def test_a_blank_article_is_refused(client, engineer_headers):
    sid = await _closed(client, engineer_headers)
    resp = await client.post(
        f"/api/v1/ai-sessions/{sid}/kb-article/post",
        json={"markdown": "  "},
        headers=engineer_headers,
    )
    assert resp.status == 422
    resp = await client.post("/api/v1/ai-sessions/999/kb-article/preview", headers=engineer_headers)
    assert resp.status == 404


async def _connectwise(cw_client, cw_admin_headers, **prefs):
    resp = await cw_client.put(
        "/api/v1/settings",
        json={"preferences": {"cw_resolved_status_id": 4, **prefs}},
        headers=cw_admin_headers,
    )
    assert resp.status == 200, await resp.text()


async def test_posted_to_the_connectwise_knowledge_base_once(
    cw_client, cw_admin_headers, cw_engineer_headers, cw_sim
):
    await _connectwise(cw_client, cw_admin_headers, kb_post_to_psa=True)
    sid = await _closed(cw_client, cw_engineer_headers, psa_ticket_id=5002)
    posted = await _post(cw_client, cw_engineer_headers, sid)
    assert posted["external_id"] is not None
    [article] = cw_sim.kb_articles.values()
    assert str(article["id"]) == posted["external_id"]
    assert article["title"].startswith("Outlook keeps crashing")  # the ticket's summary
    assert article["issue"].startswith("## Symptoms") and "## Cause" in article["issue"]
    assert article["resolution"].startswith("## Steps") and SECRET not in article["resolution"]
    assert await _post(cw_client, cw_engineer_headers, sid) == posted
    assert len(cw_sim.kb_articles) == 1


async def test_a_failed_knowledge_base_post_is_retried_without_a_duplicate(
    cw_client, cw_admin_headers, cw_engineer_headers, cw_sim
):
    await _connectwise(cw_client, cw_admin_headers, kb_post_to_psa=True)
    sid = await _closed(cw_client, cw_engineer_headers, psa_ticket_id=5002)
    cw_sim.faults.fail_next(400, method="POST", path="knowledgeBaseArticles")
    failed = await _post(cw_client, cw_engineer_headers, sid)
    assert failed["external_id"] is None and failed["external_error"]
    assert cw_sim.kb_articles == {}

    retried = await _post(cw_client, cw_engineer_headers, sid)
    assert retried["article_id"] == failed["article_id"] and retried["external_id"]
    assert len(cw_sim.kb_articles) == 1
    assert ("GET", "service/knowledgeBaseArticles") in cw_sim.requests  # looked first


async def test_not_posted_to_connectwise_unless_enabled(
    cw_client, cw_admin_headers, cw_engineer_headers, cw_sim
):
    await _connectwise(cw_client, cw_admin_headers)
    sid = await _closed(cw_client, cw_engineer_headers, psa_ticket_id=5002)
    posted = await _post(cw_client, cw_engineer_headers, sid)
    assert posted["external_id"] is None and posted["external_error"] is None
    assert cw_sim.kb_articles == {}
