"""Pure functions for ConnectWise callbacks (webhooks): parse, verify, dedupe. No I/O.

ConnectWise posts a JSON object whose `Entity` is the whole record serialised a second time
(a JSON string, null for deletes) and signs the raw body with a key fetched from the body's
`Metadata.key_url` (CONNECTWISE.md, "Callbacks"). Fetching that key is the provider's job;
deciding whether its URL may be fetched at all is `key_url_allowed`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
from typing import Any

import orjson

from providers.psa.base import CallbackEnvelope, CallbackParseError
from providers.psa.connectwise.hosts import connectwise_origins, url_origin

SIGNATURE_HEADER = "x-content-signature"


def parse_callback(raw: bytes) -> CallbackEnvelope:
    try:
        body = _loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError and over-long numbers; RecursionError, nesting.
        raise CallbackParseError("callback body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise CallbackParseError("callback body is not a JSON object")
    fields = _lower_keys(body)

    action = _required_text(fields, "action")
    type_ = _required_text(fields, "type")
    entity = _parse_entity(fields.get("entity"))
    metadata = _parse_metadata(fields.get("metadata"))

    record_id = _as_int(fields.get("id"))
    if record_id is None and entity is not None:
        record_id = _as_int(_lower_keys(entity).get("id"))

    return CallbackEnvelope(
        record_id=record_id,
        action=action.lower(),
        type=type_.lower(),
        entity=entity,
        key_url=_as_text(metadata.get("key_url")),
        message_id=_as_text(fields.get("messageid")),
        from_url=_as_text(fields.get("fromurl")),
        company_id=_as_text(fields.get("companyid")),
        member_id=_as_text(fields.get("memberid")),
        product_instance_id=_as_text(fields.get("productinstanceid")),
        partner_id=_as_text(fields.get("partnerid")),
    )


def key_url_allowed(key_url: str | None, api_url: str) -> bool:
    """True when `key_url` is on one of the account's own ConnectWise hosts: the API host
    or, on Cloud, the screens' host of its region (same scheme and port). Any path will do:
    real key URLs sit under the codebase, outside `/apis/3.0`.

    Anything else is refused without fetching: a forged body could otherwise point at a key
    its author controls and sign itself.
    """
    origin = url_origin(key_url)
    return origin is not None and origin in connectwise_origins(api_url)


def signing_key_digest(signing_key: str) -> bytes:
    """The HMAC key ConnectWise uses: SHA-256 of the signing key's UTF-8 bytes."""
    return hashlib.sha256(signing_key.encode("utf-8")).digest()


def compute_signature(raw: bytes, signing_key: str) -> str:
    mac = hmac.new(signing_key_digest(signing_key), raw, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def signature_well_formed(header_value: str | None) -> bool:
    """Whether a header could be a ConnectWise signature at all: base64 of an HMAC-SHA256
    (32 bytes). Checked before any key is fetched, so junk in the header costs nothing."""
    value = (header_value or "").strip()
    if len(value) != 44:  # base64 of 32 bytes, padded
        return False
    try:
        return len(base64.b64decode(value, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def verify_signature(raw: bytes, header_value: str | None, signing_key: str) -> bool:
    if not header_value or not signing_key:
        return False
    expected = compute_signature(raw, signing_key).encode("ascii")
    return hmac.compare_digest(expected, header_value.strip().encode("utf-8", "replace"))


def dedupe_key(envelope: CallbackEnvelope, raw: bytes) -> str:
    """A stable identity for one delivery, so a redelivered callback is processed once."""
    if envelope.message_id:
        return envelope.message_id
    info = _lower_keys(envelope.entity or {}).get("_info")
    last_updated = _lower_keys(info).get("lastupdated") if isinstance(info, dict) else None
    parts = [
        "" if envelope.record_id is None else str(envelope.record_id),
        envelope.action,
        "" if last_updated is None else str(last_updated),
        hashlib.sha256(raw).hexdigest(),
    ]
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()


def _loads(text: str) -> Any:
    """JSON read as the json module reads it, by orjson where that gives the same answer
    (several times faster: intake parses every body twice, its Entity being JSON in a
    string). orjson reads integers past 64 bits as floats, so a text with 19 digits in a row
    goes to json, as does one orjson refuses (escaped lone surrogates). Numbers JSON columns
    cannot hold are refused by both: NaN, Infinity, and floats past the double range."""
    if _LONG_DIGITS.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text, parse_constant=_not_json, parse_float=_finite)


_LONG_DIGITS = re.compile(r"[0-9]{19}")


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _finite(number: str) -> float:
    value = float(number)
    if not math.isfinite(value):
        raise ValueError(f"{number} is past the range of a number")
    return value


def _lower_keys(obj: dict[str, Any]) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in obj.items()}


def _required_text(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or not value.strip():
        raise CallbackParseError(f"callback body has no {name.capitalize()}")
    return value.strip()


def _parse_entity(value: Any) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = _loads(value)
        except (ValueError, RecursionError) as exc:
            raise CallbackParseError("callback Entity is a string that is not JSON") from exc
        if parsed is None:
            return None
        if isinstance(parsed, dict):
            return parsed
    raise CallbackParseError("callback Entity is not a JSON object")


def _parse_metadata(value: Any) -> dict[str, Any]:
    # Metadata is an object in every body seen so far; a JSON string is accepted like Entity.
    if isinstance(value, str):
        try:
            value = _loads(value)
        except (ValueError, RecursionError):
            return {}
    return _lower_keys(value) if isinstance(value, dict) else {}


MAX_RECORD_ID = 2**62  # a larger "id" is not a record: ignore it rather than store it


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        # isdigit() alone accepts "²" and other digits int() rejects
        value = int(text) if text.isascii() and text.isdigit() and len(text) < 20 else None
    if isinstance(value, int) and 0 <= value <= MAX_RECORD_ID:
        return value
    return None


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None
