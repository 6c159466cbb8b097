"""The one way text becomes search terms, for documents and queries alike: content words
(the offline assistant's tokenizer and stop words), Snowball-stemmed.

Both backends index these terms rather than running their own analysers, so SQLite and
PostgreSQL rank the same tokens, and a query's terms can be looked up in the index's own
vocabulary (document frequencies) before it is run.
"""

from __future__ import annotations

from functools import lru_cache

import snowballstemmer

from providers.llm.offline import words_of

_STEMMER = snowballstemmer.stemmer("english")
# Longer "words" are ids, hashes or pasted blobs: no one searches for them.
MAX_TERM_LENGTH = 40


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    return _STEMMER.stemWord(word)


def terms_of(text: str) -> list[str]:
    """The stemmed content words of `text`, in order, repeats kept (they count in ranking)."""
    return [stem(w) for w in words_of(text) if len(w) <= MAX_TERM_LENGTH]


def term_text(text: str) -> str:
    """`text` as the space-separated terms a full-text index stores."""
    return " ".join(terms_of(text))


def query_terms(text: str) -> list[str]:
    """A query's distinct terms, first occurrence first."""
    return list(dict.fromkeys(terms_of(text)))
