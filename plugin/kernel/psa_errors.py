"""PSA failures as API errors: unreachable is 503 (try again), anything else 502."""

from __future__ import annotations

from plugin.kernel.errors import ApiError, BadGateway, ServiceUnavailable
from providers.psa import PSAError, PSAUnavailable


def psa_api_error(exc: PSAError, label: str = "ConnectWise") -> ApiError:
    if isinstance(exc, PSAUnavailable):
        return ServiceUnavailable(f"{label} is unreachable right now.", code="psa_unavailable")
    return BadGateway(f"{label} said: {exc.message}", code="psa_error")
