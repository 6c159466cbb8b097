"""Words as the offline assistant matches them: content words, without filler.

Two layers of words carry no signal about which fix fits a ticket:

- Function words ("the", "it", "just", "again", "please"): `STOPWORDS`, dropped by
  `words_of` for every use of the tokenizer (matching, and search terms built on it).
- The service-desk request vocabulary: words that every ticket uses to say that something is
  wrong or to ask for help ("help", "issue", "problem", "not working", "the user", "urgent"),
  whatever the problem is. `FILLER` holds their roots with every regular inflection; a word
  in it never counts as a template hit, on either side (the engineer's words, the template's
  keywords, name and description).

General-purpose stop-word lists (the `stop-words` and `stopwordsiso` packages) were
considered for the second layer and rejected: they drop words that are the signal on a
service desk ("computer", "system", "clear", "net", "keys", "microsoft", "open", "fix").
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

# Words shorter than this only match exactly (so "pc" does not match "pcie").
MIN_PREFIX_MATCH = 4
# A shared stem this long also matches an irregular form ("rebuild" / "rebuilt").
MIN_STEM_MATCH = 6

STOPWORDS = frozenset(
    """
    a about after again all also am an and any are as at be been before being but by can
    cannot cant could did didnt do does doesnt doing dont for from get gets getting got had
    has have having he her here him his how i if im in into is isnt it its ive just keep
    keeps me my no not now of off on once only or our out over please same she should so
    some still t that the their them then there these they this those to too try tried
    trying up us very was wasnt we were what when where which while who why will with wont
    would you your
    """.split()  # noqa: SIM905 - a word list reads better as text
)

# Roots of the request vocabulary, by what they say (each gets its inflections below).
_FILLER_ROOTS = {
    # asking for something
    "help", "helpdesk", "assist", "assistance", "support", "advice", "advise", "need", "want",
    "request", "ask", "kindly", "pls", "plz", "urgent", "urgently", "asap", "quick", "quickly",
    "thank", "thanks", "thx", "hi", "hello", "hey", "regards", "sorry", "ok", "okay", "yes",
    "yeah", "look", "see", "sort", "fix", "solve", "resolve", "sure",
    # saying that something is wrong, not what
    "issue", "problem", "trouble", "wrong", "broken", "broke", "error", "fail", "failure",
    "work", "happen", "occur", "anymore", "suddenly", "sometimes", "always", "never",
    "today", "yesterday", "morning", "afternoon", "week", "thing", "stuff", "something",
    "anything", "everything", "nothing", "way", "lot",
    # who is affected, the ticket itself
    "user", "customer", "client", "someone", "somebody", "anyone", "anybody", "everyone",
    "everybody", "nobody", "people", "person", "staff", "colleague", "guy", "ticket", "case",
}  # fmt: skip


def _inflections(root: str) -> set[str]:
    forms = {root, root + "s", root + "es", root + "ed", root + "ing", root + "d"}
    if root.endswith("y") and len(root) > 2:
        forms |= {root[:-1] + "ies", root[:-1] + "ied"}
    if root.endswith("e"):
        forms.add(root[:-1] + "ing")
    return forms


FILLER = frozenset(form for root in _FILLER_ROOTS for form in _inflections(root))

_WORD = re.compile(r"[a-z0-9]+")


def words_of(text: str) -> list[str]:
    """Lowercased content words of `text`; apostrophes vanish so "can't" becomes "cant"."""
    return [w for w in _WORD.findall(text.lower().replace("'", "")) if w not in STOPWORDS]


def match_words(words: Iterable[str]) -> list[str]:
    """`words` without the request vocabulary: what can tell one fix from another."""
    return [w for w in words if w not in FILLER]


def terms_of(text: str) -> list[str]:
    """The words of `text` that may count as a match."""
    return match_words(words_of(text))


def word_matches(word: str, said: Iterable[str]) -> str | None:
    """The word the user said that matches `word` (equal, or one a prefix of the other:
    print/printer/printing), or None."""
    for candidate in said:
        if candidate == word:
            return candidate
        shorter, longer = sorted((candidate, word), key=len)
        if len(shorter) >= MIN_PREFIX_MATCH and longer.startswith(shorter):
            return candidate
    return None


# How much a hit says: the same word, or only a related form ("print" for "printing").
EXACT_HIT = 1.0
RELATED_HIT = 0.7


def hit_quality(word: str, said: Iterable[str]) -> float:
    """How well the best of the words said matches `word`: 1.0 for the same word, 0.7 for a
    related form (one a prefix of the other, or an irregular form sharing a long stem)."""
    best = 0.0
    for candidate in said:
        if candidate == word:
            return EXACT_HIT
        if word_matches(word, (candidate,)) or _shares_stem(word, candidate):
            best = RELATED_HIT
    return best


def _shares_stem(one: str, other: str) -> bool:
    common = len(os.path.commonprefix([one, other]))
    return common >= max(MIN_STEM_MATCH, min(len(one), len(other)) - 1)
