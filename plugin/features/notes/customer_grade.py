"""Customer-visible text is customer-grade: nothing internal, no filler.

The customer reads the resolution note. Whatever drafted it (the LLM, whose prompt states the
same rules but may not obey them, or the offline composer), its text passes through here:

- internal matching text — keywords and template-match explanations ("matches what you
  described", "library template"), confidence figures, track records ("worked on 3 similar
  tickets"), generator and model names ("Fixpilot", "offline assistant", "Claude", the
  configured model): the sentence that carries it goes (a "(confidence 70%)" aside goes
  alone);
- filler — a sentence that only says nothing was recorded ("No findings were recorded.",
  "None recorded", "N/A") goes.

Whole sentences go rather than words: a sentence with a word cut out reads as an error. The
customer's own words are never taken for internal text: a sentence of the ticket or of a
confirmed fact stays, and so does a term they use ("keyword search is broken"). A section left
with nothing is removed when it is optional; a required one left empty fails `check_sections`,
so an LLM answer is retried or replaced by the offline composer's.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator

from plugin.features.notes.sections import drop_empty_sections

_CONFIDENCE = [
    r"\bconfiden(?:ce|t)\b[^.\n]{0,30}?\d{1,3}\s*%",
    r"\b\d{1,3}\s*%\s*(?:confiden\w*|certain\w*|sure|likely|match\w*)",
    r"\bconfidence\s*(?:score|level|rating|[:=(]|\d)",
]
_INTERNAL = [
    *_CONFIDENCE,
    # keywords and template-match explanations, track records
    r"\bkey ?words?\b",
    r"\bmatch(?:es|ed|ing)?\s+(?:what\s+(?:you|the\s+\w+)\s+(?:described|said|wrote|reported)"
    r"|(?:your|the|their)\s+(?:words|description|keywords?|request|message|symptoms))\b",
    r"\b(?:template|keyword|text)\s+match",
    r"\b(?:library|script|closest|matching|best)\s+templates?\b",
    r"\bscript\s+library\b",
    r"\bmatch(?:ing)?\s+(?:score|strength)\b",
    r"\bmatched\s+(?:words?|terms?|on)\b",
    r"\bsimilar\s+tickets?\b",
    r"\btrack\s+record\b",
    # who or what drafted it
    r"\bfixpilot\b",
    r"\boffline(?:\s+|-)(?:composer|provider|assistant|mode|generator|draft|fallback|matching)\b",
    r"\b(?:generated|drafted|written|composed)\s+(?:by|with|offline|automatically)\b",
    r"\bgenerators?\b",
    r"\banthropic\b",
    r"\bclaude\b",
    r"\b(?:gpt-?\d\w*|llms?|large\s+language\s+models?|language\s+models?|ai\s+models?)\b",
    r"\b(?:an?|the)\s+ai\b",
    r"\bai[-\s](?:assistant|generated|drafted|suggested)\b",
]
_FILLER = [
    r"(?:none|nothing|n/?a|not\s+applicable|tbd|unknown|not\s+recorded)"
    r"(?:\s+(?:recorded|noted|confirmed|found))?(?:\s+(?:yet|so\s+far))?",
    r"(?:there\s+(?:are|were|is|was|have\s+been|has\s+been)\s+)?(?:no|none\s+of\s+the)\s+"
    r"(?:\w+\s+){0,2}?(?:findings|facts|details|information|notes|data|observations"
    r"|description|evidence)(?:\s+(?:was|were|has\s+been|have\s+been|is|are))?"
    r"(?:\s+(?:recorded|noted|documented|provided|available|captured|logged|confirmed))?"
    r"(?:\s+(?:yet|so\s+far))?",
    r"(?:nothing|none)\s+(?:was|were|has\s+been|have\s+been)\s+"
    r"(?:recorded|noted|documented|provided|captured|logged|confirmed)(?:\s+(?:yet|so\s+far))?",
]
# A sentence this long found in the ticket or the facts is the customer's, not ours.
MIN_QUOTED_WORDS = 3
_FILLER_SENTENCE = re.compile(rf"^(?:{'|'.join(_FILLER)})$", re.IGNORECASE)
_LIST_MARKER = re.compile(r"^(\s*(?:[-*+]|\d{1,3}[.)])\s+|\s*)(.*)$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
# "(confidence 70%)" is an aside: it goes, the sentence around it stays.
_CONFIDENCE_ASIDE = re.compile(
    rf"\s*\((?=[^()\n]*(?:{'|'.join(_CONFIDENCE)}))[^()\n]*\)", re.IGNORECASE
)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^ {0,3}#{1,6}\s")


def internal_pattern(also: Iterable[str] = ()) -> re.Pattern[str]:
    """The internal text, plus the literal `also` (the model's name, for one)."""
    extra = [rf"\b{re.escape(term)}\b" for term in also if term and len(term.strip()) > 2]
    return re.compile("|".join([*_INTERNAL, *extra]), re.IGNORECASE)


def is_filler(sentence: str) -> bool:
    """Whether `sentence` only says that nothing was recorded."""
    return _FILLER_SENTENCE.match(_bare(sentence)) is not None


def customer_grade(
    markdown: str,
    *,
    also: Iterable[str] = (),
    optional: Collection[str] = (),
    customer_words: Iterable[str] = (),
) -> str:
    """`markdown` without internal text and filler (see the module's docstring); the
    `optional` sections it leaves empty are removed. `customer_words` are the ticket's and
    the confirmed facts' texts."""
    grader = _Grader(internal_pattern(also), customer_words)
    out: list[str] = []
    for block in _blocks(markdown.splitlines()):
        if isinstance(block, str):
            out.append(block)
        elif (kept := grader.line(" ".join([block[0].rstrip(), *block[1:]]))) is not None:
            out.append(kept)
    return drop_empty_sections("\n".join(out), optional)


def _blocks(lines: list[str]) -> Iterator[str | list[str]]:
    """Lines as they are (code, headings, blank lines) and prose blocks: a paragraph or a
    list item with its soft-wrapped continuation lines, graded as one."""
    block: list[str] = []
    in_code = False
    for line in lines:
        fence = _FENCE.match(line) is not None
        verbatim = in_code or fence or _HEADING.match(line) or not line.strip()
        in_code = in_code != fence
        if block and (verbatim or _LIST_ITEM.match(line)):
            yield block
            block = []
        if verbatim:
            yield line
        else:
            block.append(line)
    if block:
        yield block


class _Grader:
    def __init__(self, internal: re.Pattern[str], customer_words: Iterable[str] = ()) -> None:
        self.internal = internal
        self.customer_words = _bare(" \n ".join(customer_words))

    def line(self, line: str) -> str | None:
        """One line of prose, graded: None when nothing of it may stay."""
        marker, body = _LIST_MARKER.match(line).groups()  # type: ignore[union-attr]
        body = _CONFIDENCE_ASIDE.sub("", " ".join(body.split()))
        kept = " ".join(s for s in _SENTENCE.split(body) if self.keeps(s)).strip()
        if not kept or not re.search(r"\w", kept):
            return None
        return marker + kept

    def keeps(self, sentence: str) -> bool:
        bare = _bare(sentence)
        if len(bare.split()) >= MIN_QUOTED_WORDS and bare in self.customer_words:
            return True
        internal = [m.group(0).lower() for m in self.internal.finditer(sentence)]
        return not is_filler(sentence) and all(term in self.customer_words for term in internal)


def customer_line(line: str) -> str | None:
    """One line of free text without its internal sentences and filler; None if none is
    left."""
    return _Grader(internal_pattern()).line(" ".join(line.split()))


def _bare(sentence: str) -> str:
    return " ".join(sentence.strip().strip("*_\"'").rstrip(".!:;").split()).lower()
