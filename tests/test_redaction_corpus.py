"""The secret detector against its corpus (tests/data/secrets): recall and false positives
as bench/redaction.py prints them, held to the targets, and idempotence."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.kernel.redaction import find_secrets, redact_text

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("bench_redaction", ROOT / "bench" / "redaction.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)
CORPUS = ROOT / "tests" / "data" / "secrets"
SECRETS = bench.load(CORPUS, "secrets")
BENIGN = bench.load(CORPUS, "benign")


# The holdout and blind2 corpora were written blind to the detector and measured once blind
# (holdout: recall 0.838, false positives 0.053; blind2: 0.820, 0.119), then used to
# generalise the detectors by category, so they are training corpora now. blind2's floor is
# lower: its remaining false positives are values other scanners flag too (an AWS key id,
# Microsoft's published KMS keys, a Duo integration key).
@pytest.mark.parametrize(
    ("corpus", "recall_floor", "false_positive_ceiling"),
    [("secrets", 0.99, 0.01), ("secrets_holdout", 0.99, 0.01), ("secrets_blind2", 0.98, 0.025)],
)
def test_recall_and_false_positives_meet_the_targets(
    corpus, recall_floor, false_positive_ceiling, capsys
):
    recall, false_positives = bench.measure(ROOT / "tests" / "data" / corpus, verbose=True)
    report = capsys.readouterr().out
    assert recall >= recall_floor, report
    assert false_positives <= false_positive_ceiling, report


@pytest.mark.parametrize("category", sorted({item["category"] for item in SECRETS}))
def test_every_category_is_covered(category):
    items = [item for item in SECRETS if item["category"] == category]
    kept = sum(
        not bench.leaked(secret, item["text"], redact_text(item["text"]), item["secrets"])
        for item in items
        for secret in item["secrets"]
    )
    assert kept / sum(len(item["secrets"]) for item in items) >= 0.95


def test_findings_name_a_kind_and_never_hold_the_value():
    item = next(i for i in SECRETS if i["category"] == "cloud_keys")
    for found in find_secrets(item["text"]):
        assert found.kind in {"password", "token", "api_key", "private_key", "recovery_code",
                              "pin", "signature", "secret"}  # fmt: skip
        assert not hasattr(found, "value")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_redaction_is_idempotent(text):
    once = redact_text(text)
    assert redact_text(once) == once


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(SECRETS), min_size=2, max_size=3))
def test_snippets_pasted_together_keep_every_secret_out(items):
    """A chat message often holds several pastes: context must not unhide a secret."""
    text = "\n\n".join(item["text"] for item in items)
    secrets = [secret for item in items for secret in item["secrets"]]
    redacted = redact_text(text)
    leaks = [s for s in secrets if bench.leaked(s, text, redacted, secrets)]
    # Each snippet alone passes (but for the corpus's known misses): so must the paste.
    alone = [s for item in items for s in item["secrets"]
             if bench.leaked(s, item["text"], redact_text(item["text"]), item["secrets"])]  # fmt: skip
    assert set(leaks) <= set(alone)
