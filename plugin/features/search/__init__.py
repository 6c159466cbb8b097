"""Similar resolved work: an index of each account's resolved and escalated sessions and
imported PSA history, searched by words (the database's full-text ranking) and by meaning
(a small static embedding model shipped in its wheel), fused by rank."""
