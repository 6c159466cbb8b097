"""Diagnostic checks: short checks the assistant proposes (the chat's [CHECKS] marker) that
the engineer ticks off with a result; each result becomes a confirmed fact."""
