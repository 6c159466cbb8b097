"""How strongly a library template matches what the engineer said, and the confidence the
offline assistant gives its suggestion because of it.

Strength is in [0, 1]. It combines three kinds of evidence as independent signals
(1 - Π(1 - signal)), so more evidence never lowers it:

- the best-matched keyword phrase: the share of its words that were said (a related form,
  "print" for "printing", counts less than the word itself), times the phrase's specificity:
  a phrase of n words is worth n / (n + 1), so "print queue" says more than "printer";
- the share of the template's name that was said, at half weight (names are specific, but
  written for people, not for matching);
- breadth: how many distinct words of the engineer's hit the template anywhere (keywords,
  name, description), with diminishing returns (each further word halves what is left).

Confidence maps strength linearly onto [CONFIDENCE_FLOOR, CONFIDENCE_CAP]: matching words
never deserves full confidence, and a bare match still says something.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from providers.llm.words import hit_quality, match_words, terms_of

NAME_SHARE = 0.5
BREADTH_SHARE = 0.4
CONFIDENCE_FLOOR = 20
CONFIDENCE_CAP = 70


def match_strength(template: Mapping[str, Any], said: Sequence[str]) -> float:
    """How strongly `template` matches the engineer's words `said` (from `words_of`)."""
    said = list(dict.fromkeys(match_words(said)))
    keywords = [phrase for k in template.get("keywords") or [] if (phrase := terms_of(str(k)))]
    best_phrase = max((_phrase_evidence(phrase, said) for phrase in keywords), default=0.0)
    name = list(dict.fromkeys(terms_of(str(template.get("name") or ""))))
    name_share = sum(hit_quality(word, said) for word in name) / len(name) if name else 0.0
    vocabulary = {word for phrase in keywords for word in phrase} | set(name)
    vocabulary |= set(terms_of(str(template.get("description") or "")))
    hits = sum(1 for word in said if any(hit_quality(v, (word,)) for v in vocabulary))
    breadth = 1 - 0.5 ** max(0, hits - 1)
    signals = (best_phrase, NAME_SHARE * name_share, BREADTH_SHARE * breadth)
    return 1 - math.prod(1 - signal for signal in signals)


def _phrase_evidence(phrase: list[str], said: Sequence[str]) -> float:
    said_share = sum(hit_quality(word, said) for word in phrase) / len(phrase)
    return said_share * len(phrase) / (len(phrase) + 1)


def confidence_for(strength: float) -> int:
    """The suggestion's confidence (0-100) for a match of `strength` (0-1): monotonic."""
    strength = min(1.0, max(0.0, strength))
    return round(CONFIDENCE_FLOOR + (CONFIDENCE_CAP - CONFIDENCE_FLOOR) * strength)
