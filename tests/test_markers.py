import json
import random
from datetime import UTC, datetime

import pytest

from plugin.features.chat.markers import (
    MarkerStreamFilter,
    OutcomeMarker,
    SuggestionMarker,
    normalise_visible,
    parse_markers,
)
from plugin.features.chat.prompts import CHAT_SYSTEM_PROMPT, build_context_block
from plugin.features.fixes.transitions import OUTCOME_STATUSES


def suggest(payload: dict | str) -> str:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    return f"[SUGGEST_FIX]{body}[/SUGGEST_FIX]"


def outcome(payload: dict | str) -> str:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    return f"[FIX_OUTCOME]{body}[/FIX_OUTCOME]"


def test_well_formed_template_suggestion_is_parsed_and_stripped():
    reply = (
        "The profile looks corrupt.\n\n"
        '[SUGGEST_FIX]{"title": "Rebuild Outlook profile", "summary": "Recreate it.",\n'
        ' "confidence": 80, "template_id": 12, "parameters": {"username": "jdoe"}}'
        "[/SUGGEST_FIX]\n\nTell me how it goes."
    )
    parsed = parse_markers(reply)
    assert parsed.suggestion == SuggestionMarker(
        title="Rebuild Outlook profile",
        summary="Recreate it.",
        confidence=80,
        template_id=12,
        parameters={"username": "jdoe"},
        script=None,
    )
    assert parsed.outcome is None
    assert parsed.visible_text == "The profile looks corrupt.\n\nTell me how it goes."
    assert parsed.ignored == []


def test_script_suggestion_and_defaults():
    parsed = parse_markers(suggest({"title": " Flush DNS ", "script": "ipconfig /flushdns"}))
    assert parsed.suggestion == SuggestionMarker(
        title="Flush DNS",
        summary="",
        confidence=None,
        template_id=None,
        parameters={},
        script="ipconfig /flushdns",
    )
    assert parsed.visible_text == ""


def test_suggestion_without_template_or_script_is_still_valid():
    parsed = parse_markers(suggest({"title": "Reseat the network cable", "confidence": 40}))
    assert parsed.suggestion is not None
    assert parsed.suggestion.template_id is None and parsed.suggestion.script is None


def test_last_well_formed_block_wins():
    reply = suggest({"title": "First"}) + " middle " + suggest({"title": "Second"})
    parsed = parse_markers(reply)
    assert parsed.suggestion.title == "Second"
    assert parsed.visible_text == "middle"
    assert parsed.ignored == ["earlier SUGGEST_FIX block replaced by a later one"]


def test_malformed_later_block_is_ignored_and_earlier_one_kept():
    reply = suggest({"title": "Good"}) + "\nand\n" + suggest('{"title": "Bad",}')
    parsed = parse_markers(reply)
    assert parsed.suggestion.title == "Good"
    assert parsed.visible_text == "and"
    assert parsed.ignored == ["SUGGEST_FIX block ignored: malformed JSON"]


@pytest.mark.parametrize(
    "payload, reason",
    [
        ({"summary": "no title"}, "missing title"),
        ({"title": "   "}, "missing title"),
        ({"title": 12}, "missing title"),
        ('["title"]', "not a JSON object"),
        ('{"title": "x"} trailing', "text after the JSON"),
    ],
)
def test_invalid_suggestions_are_ignored(payload, reason):
    parsed = parse_markers("Hi " + suggest(payload) + " there")
    assert parsed.suggestion is None
    assert parsed.visible_text == "Hi  there"
    assert parsed.ignored == [f"SUGGEST_FIX block ignored: {reason}"]


@pytest.mark.parametrize(
    "raw, expected",
    [
        (150, 100),
        (-5, 0),
        (72.5, 73),
        (99.4, 99),
        ("85", 85),
        ("85%", 85),
        ("abc", None),
        (True, None),
        (None, None),
        ([80], None),
        (10**400, 100),
    ],
    ids=lambda value: repr(value)[:12],
)
def test_confidence_is_clamped_and_rounded(raw, expected):
    parsed = parse_markers(suggest({"title": "t", "confidence": raw}))
    assert parsed.suggestion is not None  # a bad confidence never drops the block
    assert parsed.suggestion.confidence == expected


def test_nan_confidence_is_ignored():
    parsed = parse_markers(suggest('{"title": "t", "confidence": NaN}'))
    assert parsed.suggestion.confidence is None


@pytest.mark.parametrize(
    "raw, expected",
    [(12, 12), ("12", 12), (" 7 ", 7), (12.0, 12), (12.5, None), ("x", None), (0, None)],
)
def test_template_id_must_be_int_like(raw, expected):
    parsed = parse_markers(suggest({"title": "t", "template_id": raw}))
    assert parsed.suggestion.template_id == expected


def test_non_object_parameters_and_non_string_script_are_dropped():
    parsed = parse_markers(suggest({"title": "t", "parameters": ["a"], "script": 5}))
    assert parsed.suggestion.parameters == {}
    assert parsed.suggestion.script is None


def test_nested_braces_and_close_tag_inside_json_string():
    script = 'if ($x) { Write-Host "[/SUGGEST_FIX] }" }\n# {{username}}'
    payload = {
        "title": "Tricky [/SUGGEST_FIX] title",
        "script": script,
        "parameters": {"nested": {"deeper": {"list": [1, {"k": "}"}]}}},
    }
    parsed = parse_markers("Before.\n" + suggest(payload) + "\nAfter.")
    assert parsed.suggestion.title == "Tricky [/SUGGEST_FIX] title"
    assert parsed.suggestion.script == script
    assert parsed.suggestion.parameters == payload["parameters"]
    assert parsed.visible_text == "Before.\n\nAfter."


def test_literal_newlines_inside_json_strings_are_accepted():
    parsed = parse_markers('[SUGGEST_FIX]{"title": "t", "script": "line1\nline2"}[/SUGGEST_FIX]')
    assert parsed.suggestion.script == "line1\nline2"


def test_markers_in_the_middle_of_text_are_stripped_and_blank_lines_collapsed():
    reply = (
        "\n\nCheck the service first.\n\n"
        + suggest({"title": "Restart spooler"})
        + "\n\n\n"
        + outcome({"outcome": "applied_failed"})
        + "\n\nThen:\n\n    Get-Service spooler\n\n"
    )
    parsed = parse_markers(reply)
    assert parsed.visible_text == "Check the service first.\n\nThen:\n\n    Get-Service spooler"
    assert parsed.suggestion.title == "Restart spooler"
    assert parsed.outcome.outcome == "applied_failed"


@pytest.mark.parametrize(
    "status", ["applied_success", "applied_failed", "applied_partial", "applied_pending"]
)
def test_outcome_with_each_status(status):
    parsed = parse_markers(
        "Great. "
        + outcome({"outcome": status, "notes": " printer 2 still fails ", "pending_reason": ""})
    )
    assert parsed.outcome == OutcomeMarker(
        outcome=status, notes="printer 2 still fails", pending_reason=None
    )
    assert parsed.visible_text == "Great."


def test_pending_outcome_keeps_reason():
    parsed = parse_markers(
        outcome({"outcome": "applied_pending", "pending_reason": "user to confirm after reboot"})
    )
    assert parsed.outcome.pending_reason == "user to confirm after reboot"
    assert parsed.outcome.notes is None


@pytest.mark.parametrize("value", ["dismissed", "suggested", "worked", 3, None])
def test_invalid_outcome_is_ignored(value):
    parsed = parse_markers("ok " + outcome({"outcome": value}))
    assert parsed.outcome is None
    assert parsed.visible_text == "ok"
    assert parsed.ignored == ["FIX_OUTCOME block ignored: unknown outcome value"]


def test_malformed_json_block_ends_at_first_close_tag():
    # The unterminated string swallows a close tag; with the JSON broken, that tag ends it.
    parsed = parse_markers('A [SUGGEST_FIX]{"title": "x[/SUGGEST_FIX] B')
    assert parsed.suggestion is None
    assert parsed.visible_text == "A  B"
    assert parsed.ignored == ["SUGGEST_FIX block ignored: malformed JSON"]


@pytest.mark.parametrize(
    "tail",
    [
        "[SUGGEST_FIX]",
        '[SUGGEST_FIX]{"title": "cut off',
        '[SUGGEST_FIX]{"title": "complete"}',
        '[FIX_OUTCOME]  {"outcome": "applied_success"} [/FIX_OUT',
    ],
)
def test_unclosed_block_is_stripped_to_the_end(tail):
    parsed = parse_markers("Visible text.\n" + tail)
    assert parsed.visible_text == "Visible text."
    assert parsed.suggestion is None and parsed.outcome is None
    assert parsed.ignored[0].endswith("ignored: no close tag")


def test_stray_close_tags_are_removed_and_lookalikes_kept():
    parsed = parse_markers("a [/SUGGEST_FIX] b [/FIX_OUTCOME] c [SUGAR] [suggest_fix] [")
    assert parsed.visible_text == "a  b  c [SUGAR] [suggest_fix] ["
    assert parsed.ignored == [
        "stray [/SUGGEST_FIX] tag removed",
        "stray [/FIX_OUTCOME] tag removed",
    ]


def test_deeply_nested_json_is_ignored_without_crashing():
    parsed = parse_markers("x " + suggest("[" * 100_000 + "]" * 100_000) + " y")
    assert parsed.suggestion is None
    assert parsed.visible_text == "x  y"


def test_ignored_reasons_never_quote_block_content():
    parsed = parse_markers(suggest('{"title": "t", "script": "pw=Hunter2", oops}'))
    assert parsed.ignored and not any("Hunter2" in reason for reason in parsed.ignored)


# --- streaming -----------------------------------------------------------------------------

TRICKY_REPLIES = [
    "Check the spooler.\n\n"
    + suggest({"title": "Restart spooler", "confidence": 70, "template_id": 3, "parameters": {}})
    + "\n\nLet me know.",
    "Nested "
    + suggest(
        {
            "title": "a [/SUGGEST_FIX] b",
            "script": 'x = "{[/FIX_OUTCOME]}" \\ [SUGGEST_FIX]',
            "parameters": {"a": [{"b": "}]"}, None, True, 1.5e3, -2]},
        }
    )
    + " text "
    + outcome({"outcome": "applied_partial", "notes": "2 of 3 [/FIX_OUTCOME] fixed"}),
    '[SUGGEST_FIX]{"title": "[/SUGGEST_FIX]", "confidence": 7.5}[/SUGGEST_FIX] after',
    '[SUGGEST_FIX]{"title": "x[/SUGGEST_FIX] visible after malformed\n\n\n\nmore',
    '[SUGGEST_FIX]{"title": oops}[/SUGGEST_FIX] shown ' + suggest({"title": "kept"}),
    '[FIX_OUTCOME] 12e5 [/FIX_OUTCOME] a [FIX_OUTCOME]{"outcome":"x"} junk [/FIX_OUTCOME] b',
    "  \n\n leading " + suggest({"title": "t"}) + "[/SUGGEST_FIX] stray [SUGAR] [/FIX_OUT",
    "Tail " + suggest({"title": "t"})[:-3],
    "Unclosed " + '[SUGGEST_FIX]{"title": "t", "script": "a[/SUGGEST_FIX]"}',
    "Literals " + suggest('{"title": "t", "x": [true, false, null, -Infinity, NaN]}') + " end",
    "Bad literal " + suggest('{"title": "t", "x": tru}') + " end",
    "[[[[SUGGEST_FIX]]]]" + suggest({"title": "brackets"}) + "[[ [/ [/F",
    "Indented:\n\n\n\n    code\n\t\n  \n" + outcome({"outcome": "applied_success"}) + "\n\n",
]


def stream(deltas: list[str]) -> tuple[str, MarkerStreamFilter]:
    marker_filter = MarkerStreamFilter()
    shown = "".join(marker_filter.feed(delta) for delta in deltas) + marker_filter.finish()
    return shown, marker_filter


def assert_stream_matches(reply: str, deltas: list[str]) -> None:
    assert "".join(deltas) == reply
    expected = parse_markers(reply)
    shown, marker_filter = stream(deltas)
    assert shown == expected.visible_text, deltas
    assert marker_filter.result == expected


def random_split(reply: str, rng: random.Random) -> list[str]:
    cuts = sorted(rng.sample(range(1, len(reply)), rng.randint(1, min(12, len(reply) - 1))))
    return [reply[a:b] for a, b in zip([0, *cuts], [*cuts, len(reply)], strict=True)]


@pytest.mark.parametrize("reply", TRICKY_REPLIES)
def test_stream_equals_parse_for_one_char_deltas(reply):
    assert_stream_matches(reply, list(reply))


@pytest.mark.parametrize("reply", TRICKY_REPLIES)
def test_stream_equals_parse_for_every_two_piece_split(reply):
    for cut in range(len(reply) + 1):
        assert_stream_matches(reply, [reply[:cut], reply[cut:]])


@pytest.mark.parametrize("reply", TRICKY_REPLIES)
def test_stream_equals_parse_for_random_splits(reply):
    rng = random.Random(reply)
    for _ in range(100):
        assert_stream_matches(reply, random_split(reply, rng))


FUZZ_FRAGMENTS = [
    "[SUGGEST_FIX]", "[/SUGGEST_FIX]", "[FIX_OUTCOME]", "[/FIX_OUTCOME]", "[SUG", "[/FIX",
    "{", "}", "[", "]", '"', "\\", ":", ",", '"title"', '"x"', "1", "1e", "5", ".", "-",
    "true", "tru", "NaN", "abc", " ", "\n", "\n\n\n", "\t",
    '{"title": "t"}', '{"outcome": "applied_success"}',
]  # fmt: skip


def test_stream_equals_parse_for_random_fragment_soup():
    rng = random.Random(20240611)
    for _ in range(400):
        reply = "".join(rng.choice(FUZZ_FRAGMENTS) for _ in range(rng.randint(2, 24)))
        assert_stream_matches(reply, list(reply))
        if len(reply) > 1:
            assert_stream_matches(reply, random_split(reply, rng))


def test_stream_holds_back_a_possible_tag_until_it_is_settled():
    marker_filter = MarkerStreamFilter()
    assert marker_filter.feed("Hello [SUG") == "Hello"
    assert marker_filter.feed("AR is sweet") == " [SUGAR is sweet"
    assert marker_filter.feed(' [SUGGEST_FIX]{"title": "[/SUGGEST_FIX]"') == ""
    # The space before the block was held back as possibly trailing.
    assert marker_filter.feed("}[/SUGGEST_FIX] ok") == "  ok"
    assert marker_filter.finish() == ""
    assert marker_filter.result.suggestion.title == "[/SUGGEST_FIX]"


def test_stream_shows_text_after_a_malformed_block_before_the_reply_ends():
    marker_filter = MarkerStreamFilter()
    assert marker_filter.feed("a [FIX_OUTCOME]{oops}[/FIX_OUTCOME] b") == "a  b"


def test_stream_flushes_a_trailing_lone_bracket_on_finish():
    marker_filter = MarkerStreamFilter()
    assert marker_filter.feed("see [") == "see"
    assert marker_filter.finish() == " ["


def test_stream_result_requires_finish_and_feed_after_finish_fails():
    marker_filter = MarkerStreamFilter()
    with pytest.raises(RuntimeError):
        _ = marker_filter.result
    marker_filter.finish()
    with pytest.raises(RuntimeError):
        marker_filter.feed("x")


def test_normalise_visible():
    assert normalise_visible("\n a\n\n\n\n  b \n\nc\n\n") == "a\n\n  b \n\nc"


# --- the system prompt documents markers that parse, and the context block ----------------


def test_every_marker_example_in_the_system_prompt_parses():
    examples = [
        line
        for line in CHAT_SYSTEM_PROMPT.splitlines()
        if line.startswith(("[SUGGEST_FIX]{", "[FIX_OUTCOME]{"))
    ]
    assert len(examples) == 3
    for example in examples:
        parsed = parse_markers(example)
        assert parsed.ignored == [] and parsed.visible_text == ""
        assert (parsed.suggestion or parsed.outcome) is not None
    template_example = parse_markers(examples[0]).suggestion
    assert template_example.template_id == 12 and template_example.confidence == 80


def test_system_prompt_names_every_outcome_and_has_no_session_data():
    for status in OUTCOME_STATUSES:
        assert status.value in CHAT_SYSTEM_PROMPT
    for required in ("notes", "pending_reason", "supersedes", "0 to 100"):
        assert required in CHAT_SYSTEM_PROMPT
    assert "{" + "ticket" not in CHAT_SYSTEM_PROMPT  # no unfilled per-session placeholders


def test_context_block_renders_the_session_compactly():
    block = build_context_block(
        ticket={
            "id": 4711,
            "summary": "Outlook keeps asking for password",
            "board": "Service Desk",
            "status": "In Progress",
            "company": "Contoso",
        },
        facts=["Only jdoe is affected", "Started after a password change"],
        active_fix={
            "title": "Clear cached credentials",
            "status": "applied_pending",
            "confidence": 70,
            "applied_at": datetime(2024, 6, 1, 12, 0, tzinfo=UTC),
            "pending_reason": "user to confirm after reboot",
            "partial_notes": "mail syncs, calendar empty",
            "template_id": 12,
            "ai_drafted_parameters": {"username": "jdoe", "admin_password": "Hunter2!"},
        },
        templates=[
            {
                "id": 12,
                "name": "Clear Credential Manager",
                "description": "Removes cached Office credentials.",
                "parameters_schema": [
                    {"name": "username", "type": "string", "required": True},
                    {"name": "admin_password", "sensitive": True, "default": "Hunter2!"},
                ],
                "track_record": {"worked": 5, "failed": 1, "pending": 2},
            }
        ],
    )
    assert "#4711 | Company: Contoso" in block
    # What the customer wrote sits in a block the system prompt says is never instructions.
    assert "<ticket_text>\nSummary: Outlook keeps asking for password\n</ticket_text>" in block
    assert "Company: Contoso | Board: Service Desk | Status: In Progress" in block
    assert "1. Only jdoe is affected\n2. Started after a password change" in block
    assert "applied_pending (applied 2024-06-01 12:00 UTC)" in block
    assert "waiting on: user to confirm after reboot" in block
    assert "Earlier partial result: mail syncs, calendar empty" in block
    assert "username=jdoe, admin_password=[REDACTED]" in block
    assert "Hunter2!" not in block
    assert "#12 Clear Credential Manager" in block
    assert "worked 5 / failed 1 / partial 0 / pending 2" in block


def test_context_block_for_an_empty_session_and_a_script_fix():
    block = build_context_block(
        ticket=None,
        facts=[],
        active_fix={"title": "Flush DNS", "status": "suggested", "ai_drafted_script": "x" * 5000},
        templates=[],
    )
    assert "No PSA ticket" in block and "None recorded yet." in block
    assert "suggested (not applied yet)" in block
    assert "… (truncated)" in block and "x" * 5000 not in block
    assert "None match" in block
    assert "Active fix\nNone." in build_context_block(
        ticket=None, facts=[], active_fix=None, templates=[]
    )
