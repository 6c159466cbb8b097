"""The offline assistant stays grounded in the session: it never proposes again what failed,
was turned down or what the engineer says they already tried; filler words never make a
match; and its confidence follows how strongly a template matched."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.features.scripts.shipped import load_shipped_library, shipped_library
from plugin.kernel.tenancy import get_account_by_slug
from providers.llm import OfflineProvider
from providers.llm.attempts import statements, tried_templates
from providers.llm.base import LLMRequest
from providers.llm.offline import compose_chat_reply, rank_templates
from providers.llm.strength import CONFIDENCE_CAP, confidence_for, match_strength
from providers.llm.words import FILLER, STOPWORDS, words_of
from tests.helpers import db_of, new_session

MARKER = re.compile(r"\[SUGGEST_FIX\](.*?)\[/SUGGEST_FIX\]", re.DOTALL)
LIBRARY = [{**template, "id": n} for n, template in enumerate(shipped_library(), 1)]
BY_SLUG = {t["slug"]: t for t in LIBRARY}
SPOOLER = BY_SLUG["restart-print-spooler"]


def request(*turns: str, **context: Any) -> LLMRequest:
    """Engineer and assistant turns, alternating, the engineer first."""
    roles = ["user", "assistant"]
    messages = [{"role": roles[n % 2], "content": text} for n, text in enumerate(turns)]
    return LLMRequest(
        kind="chat", system="", messages=messages, context={"templates": LIBRARY, **context}
    )


def suggestion(reply: str) -> dict[str, Any] | None:
    found = MARKER.findall(reply)
    return json.loads(found[0]) if found else None


def suggested_id(reply: str) -> int | None:
    found = suggestion(reply)
    return None if found is None else found["template_id"]


# --- never again: what failed, was turned down, or was already tried ---------------------


def test_a_fix_that_failed_in_this_session_is_not_suggested_again():
    said = "print queue stuck again, nothing prints"
    assert suggested_id(compose_chat_reply(request(said))) == SPOOLER["id"]

    failed = {"template_id": SPOOLER["id"], "status": "applied_failed", "active": True}
    reply = compose_chat_reply(request(said, session_fixes=[failed]))

    assert suggested_id(reply) != SPOOLER["id"]
    assert "Not suggesting again: **Restart the Print Spooler and clear its queue** (it " in reply
    assert "didn't work earlier in this session" in reply


def test_a_dismissed_fix_and_the_current_fix_are_not_proposed_again():
    said = "print queue stuck"
    dismissed = {"template_id": SPOOLER["id"], "status": "dismissed", "active": False}
    assert suggested_id(compose_chat_reply(request(said, session_fixes=[dismissed]))) is None

    current = {"template_id": SPOOLER["id"], "status": "suggested", "active": True}
    reply = compose_chat_reply(request(said, session_fixes=[current]))
    assert suggested_id(reply) is None
    assert "already the current fix" in reply


def test_why_a_fix_is_not_proposed_again_says_the_most_about_it():
    said = "print queue stuck. I already restarted the spooler, no luck"
    current = {"template_id": SPOOLER["id"], "status": "suggested", "active": True}
    assert "you said you already tried it" in compose_chat_reply(
        request(said, session_fixes=[current])
    )
    failed = {"template_id": SPOOLER["id"], "status": "applied_failed", "active": False}
    reply = compose_chat_reply(request(said, session_fixes=[failed, current]))
    assert "didn't work earlier in this session" in reply


def test_that_didnt_work_rules_out_what_the_assistant_proposed_just_before():
    first = compose_chat_reply(request("Outlook won't open, the profile looks corrupt"))
    assert suggested_id(first) == BY_SLUG["rebuild-outlook-profile"]["id"]
    visible = MARKER.sub("", first)

    reply = compose_chat_reply(
        request("Outlook won't open, the profile looks corrupt", visible, "that didn't help")
    )

    assert suggested_id(reply) != BY_SLUG["rebuild-outlook-profile"]["id"]
    assert "you said you already tried it" in reply


def test_fixes_the_engineer_says_they_tried_are_not_suggested():
    for tried in (
        "I already restarted the spooler.",
        "tried clearing the queue, no luck",
        "Restarting the spooler didn't help.",
    ):
        reply = compose_chat_reply(request(f"Print queue is stuck, jobs won't print. {tried}"))
        assert suggested_id(reply) != SPOOLER["id"], tried
        assert "you said you already tried it" in reply


def test_asking_about_a_fix_is_not_having_tried_it():
    for asked in ("Should I restart the spooler?", "can you clear the print queue"):
        assert statements(asked) == []
        reply = compose_chat_reply(request(f"Print queue is stuck. {asked}"))
        assert suggested_id(reply) == SPOOLER["id"], asked


def test_what_was_tried_is_attributed_to_the_right_template():
    turns = [("", "I already flushed dns and rebuilt the outlook profile, no change")]
    tried = {t["slug"] for t in tried_templates(turns, LIBRARY)}
    assert tried == {"flush-dns-reset-winsock", "rebuild-outlook-profile"}
    # Checking something is not trying a fix; restarting another thing is not either.
    for said in ("I already checked DNS, it resolves fine", "I already restarted the server"):
        assert "flush-dns-reset-winsock" not in {
            t["slug"] for t in tried_templates([("", said)], LIBRARY)
        }
        assert SPOOLER not in tried_templates([("", said)], LIBRARY)


async def test_chat_through_the_service_does_not_repeat_a_fix_the_engineer_tried(
    client, engineer_headers
):
    async with db_of(client).write() as tx:
        account = await get_account_by_slug(tx, "default")
        await load_shipped_library(tx, account.id, shipped_library())
    s = await new_session(client, engineer_headers)

    async def say(text: str) -> dict[str, Any]:
        resp = await client.post(
            f"/api/v1/ai-sessions/{s['id']}/messages",
            json={"content": text},
            headers=engineer_headers,
        )
        assert resp.status == 200, await resp.text()
        return await resp.json()

    first = await say("Nobody in accounting can print, the print queue is stuck")
    spooler_id = first["suggested_fix"]["template_id"]
    assert first["suggested_fix"]["title"] == SPOOLER["name"]

    second = await say("I already restarted the spooler and cleared the queue, no luck")
    assert second["suggested_fix"] is None or second["suggested_fix"]["template_id"] != spooler_id
    assert "already tried" in second["assistant_message"]["content"]


# --- filler never matches ---------------------------------------------------------------


def test_filler_only_messages_match_no_template():
    for filler in (
        "please help, it's not working again",
        "Hi, the user has an issue, just help please",
        "same problem again, urgent, need a fix asap",
        "it is broken and nothing works, thanks",
    ):
        assert rank_templates(LIBRARY, words_of(filler)) == [], filler
        assert suggestion(compose_chat_reply(request(filler))) is None, filler


FILLER_WORDS = sorted(FILLER | STOPWORDS)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(FILLER_WORDS), min_size=1, max_size=12))
def test_no_combination_of_filler_words_matches(words: list[str]):
    assert rank_templates(LIBRARY, words_of(" ".join(words))) == []


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(FILLER_WORDS), min_size=1, max_size=8))
def test_filler_added_to_a_message_changes_neither_the_match_nor_the_confidence(words):
    message = "outlook not opening, corrupt profile"
    padded = f"{' '.join(words)} {message} {' '.join(reversed(words))}"
    plain = rank_templates(LIBRARY, words_of(message))
    noisy = rank_templates(LIBRARY, words_of(padded))
    assert [(m.template["id"], m.score) for m in noisy] == [
        (m.template["id"], m.score) for m in plain
    ]
    best = plain[0].template
    assert match_strength(best, words_of(padded)) == match_strength(best, words_of(message))


# --- confidence follows match strength ----------------------------------------------------


def confidence_of(message: str) -> int:
    found = suggestion(compose_chat_reply(request(message)))
    assert found is not None and found["template_id"] == SPOOLER["id"], message
    return found["confidence"]


def test_a_strong_match_gets_more_confidence_than_a_weak_one():
    weak = confidence_of("printing")
    strong = confidence_of("stuck print job in the print queue, the print spooler hangs")
    assert weak < strong <= CONFIDENCE_CAP < 100


def test_confidence_grows_with_each_word_of_the_template_that_is_said():
    messages = [
        "printing",
        "print queue",
        "print queue stuck",
        "stuck print job in the print queue",
        "stuck print job in the print queue, print spooler",
        "stuck print job in the print queue, print spooler, spoolsv, restart, clear",
    ]
    confidences = [confidence_of(m) for m in messages]
    assert confidences == sorted(confidences) and confidences[0] < confidences[-1]
    assert len(set(confidences)) >= 4  # not a constant


def test_an_exact_phrase_says_more_than_related_words():
    exact = match_strength(SPOOLER, words_of("print spooler"))
    related = match_strength(SPOOLER, words_of("printing spoolers"))
    assert exact > related > 0


VOCABULARY = sorted(
    set(words_of(" ".join([SPOOLER["name"], SPOOLER["description"], *SPOOLER["keywords"]])))
    | {"outlook", "dns", "teams", "coffee"}
)


@settings(max_examples=200, deadline=None)
@given(st.sets(st.sampled_from(VOCABULARY)), st.sets(st.sampled_from(VOCABULARY)))
def test_saying_more_never_lowers_strength_or_confidence(some: set[str], more: set[str]):
    said, said_more = sorted(some), sorted(some | more)
    strength, stronger = match_strength(SPOOLER, said), match_strength(SPOOLER, said_more)
    assert 0.0 <= strength <= stronger <= 1.0
    assert confidence_for(strength) <= confidence_for(stronger)


async def test_the_provider_reply_carries_the_strength_based_confidence():
    result = await OfflineProvider().generate(request("print spooler stuck, print queue"))
    found = suggestion(result.text)
    assert found is not None
    expected = confidence_for(match_strength(SPOOLER, words_of("print spooler stuck, print queue")))
    assert found["confidence"] == expected


async def test_chat_through_the_service_does_not_repeat_a_fix_that_failed(client, engineer_headers):
    async with db_of(client).write() as tx:
        account = await get_account_by_slug(tx, "default")
        await load_shipped_library(tx, account.id, shipped_library())
    s = await new_session(client, engineer_headers)
    base = f"/api/v1/ai-sessions/{s['id']}"

    async def say(text: str) -> dict[str, Any]:
        resp = await client.post(
            f"{base}/messages", json={"content": text}, headers=engineer_headers
        )
        assert resp.status == 200, await resp.text()
        return await resp.json()

    first = await say("The print queue is stuck, nothing prints")
    fix = first["suggested_fix"]
    assert fix["title"] == SPOOLER["name"]
    fixes = f"{base}/suggested-fixes/{fix['id']}"
    assert (await client.post(f"{fixes}/apply", headers=engineer_headers)).status == 200
    resp = await client.patch(
        f"{fixes}/outcome", json={"outcome": "applied_failed"}, headers=engineer_headers
    )
    assert resp.status == 200

    again = await say("The print queue is still stuck, nothing prints")
    assert again["suggested_fix"] is None or again["suggested_fix"]["title"] != SPOOLER["name"]
    assert "didn't work earlier in this session" in again["assistant_message"]["content"]
