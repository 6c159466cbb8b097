"""ConnectWise PSA: REST provider, pure callback functions, JSON mapping."""

from providers.psa.connectwise.callbacks import (
    SIGNATURE_HEADER,
    CallbackEnvelope,
    CallbackParseError,
    compute_signature,
    dedupe_key,
    key_url_allowed,
    parse_callback,
    signature_well_formed,
    signing_key_digest,
    verify_signature,
)
from providers.psa.connectwise.config import ConnectWiseConfig, ConnectWiseConnection
from providers.psa.connectwise.mapping import ticket_from_cw
from providers.psa.connectwise.provider import ConnectWiseProvider

__all__ = [
    "SIGNATURE_HEADER",
    "CallbackEnvelope",
    "CallbackParseError",
    "ConnectWiseConfig",
    "ConnectWiseConnection",
    "ConnectWiseProvider",
    "compute_signature",
    "dedupe_key",
    "key_url_allowed",
    "parse_callback",
    "signature_well_formed",
    "signing_key_digest",
    "ticket_from_cw",
    "verify_signature",
]
