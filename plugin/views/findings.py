"""The lint's findings for a fix's script, remembered: the pod re-reads the same session
(and so the same script) every few seconds, and linting a long script costs milliseconds."""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from plugin.kernel.script_lint import Finding, lint_script

_CAP = 1024
# Keyed by a digest, not the text: a 100 kB script is not kept alive by the cache.
_remembered: OrderedDict[bytes, tuple[Finding, ...]] = OrderedDict()


def script_findings(script: str | None) -> list[Finding]:
    if not script:
        return []
    key = hashlib.blake2b(script.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    found = _remembered.get(key)
    if found is None:
        found = tuple(lint_script(script))
        _remembered[key] = found
        if len(_remembered) > _CAP:
            _remembered.popitem(last=False)
    else:
        _remembered.move_to_end(key)
    return list(found)
