"""Secrets recognisable by their own shape: vendor tokens, JWTs, authorization
headers, credentials and signatures in URLs, recovery keys, network-device configuration.

Every pattern is linear: no nested repetition, lookbehinds at the start of runs.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator

from plugin.kernel.redaction.findings import Finding, finding, span
from plugin.kernel.redaction.values import is_dummy, is_placeholder, looks_random, names_a_secret

_VENDOR_TOKENS = re.compile(
    r"(?<![A-Za-z0-9_\-])(?:"
    r"sk-ant-[A-Za-z0-9_\-]{16,}"  # Anthropic
    r"|sk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{20,}"  # OpenAI
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Z])"  # AWS access key id
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,}"  # GitHub
    r"|gl(?:pat|rt|dt|ptt|cbt|soat)-[A-Za-z0-9_\-]{20,}"  # GitLab
    r"|xox[abposre]-[A-Za-z0-9\-]{10,}|xapp-[A-Za-z0-9\-]{10,}"  # Slack
    r"|AIza[0-9A-Za-z_\-]{30,}"  # Google
    r"|(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}|whsec_[A-Za-z0-9]{20,}"  # Stripe
    r"|SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{20,}"  # SendGrid
    r"|eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"  # JWT
    r"|npm_[A-Za-z0-9]{30,}|pypi-[A-Za-z0-9_\-]{50,}"  # npm, PyPI
    r"|hf_[A-Za-z0-9]{30,}|dop_v1_[0-9a-f]{40,}|shp(?:at|ca|pa|ss)_[0-9a-fA-F]{20,}"
    r"|hvs\.[A-Za-z0-9_\-]{20,}|hvb\.[A-Za-z0-9_\-]{20,}"  # HashiCorp Vault
    r"|ATATT3[A-Za-z0-9_\-=]{30,}|ITG\.[0-9a-f]{20,}\.[A-Za-z0-9_\-]{20,}"  # Atlassian, IT Glue
    r"|key-[0-9a-f]{32}|[0-9a-f]{32}-us[0-9]{1,2}"  # Mailgun, Mailchimp
    r"|hk_[0-9a-f]{30,}"  # Huntress private key
    r"|\d{8,10}:AA[A-Za-z0-9_\-]{30,}"  # Telegram bot
    r"|[A-Za-z0-9_\-.]{3}[0-9]Q~[A-Za-z0-9_\-.~]{30,}"  # Entra ID client secret
    r")"
)
_AUTH_HEADER = re.compile(
    r"(?i)\b(?:authorization|proxy-authorization)[\"']?[ \t]*[:=][ \t]*[\"']?"
    r"(?:[A-Za-z][\w\-]{1,24}[ \t]+)?([A-Za-z0-9\-._~+/:]{16,}=*)"
)
_BEARER = re.compile(r"(?i)\b(?:bearer|ssws)[ \t]+([A-Za-z0-9\-._~+/]{16,}=*)")
_BASIC = re.compile(r"\bBasic\s+([A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])")
_API_KEY_HEADER = re.compile(
    r"(?i)\b(?:x-api-key|api-key|x-auth-token|private-token|x-api-token|x-access-token|"
    r"ocp-apim-subscription-key|x-functions-key|x-ms-client-secret|apikey)"
    r"[\"']?[ \t]*:[ \t]*[\"']?([^\s\"',;]{8,})"
)
# scheme://user:password@host (the password may hold "@": the last one ends it), and
# scheme://token@host (a token alone as the user: Azure DevOps, GitHub).
_URL_USERINFO = re.compile(
    r"(?i)(?<![a-z0-9+.\-])[a-z][a-z0-9+.\-]*+://[^\s:/@\"'<>]*+:([^\s/\"'<>]+)@[^\s@/\"'<>]+"
)
_URL_TOKEN_USER = re.compile(r"(?i)(?<![a-z0-9+.\-])[a-z][a-z0-9+.\-]*+://([A-Za-z0-9_\-]{20,})@")
_URL_SECRET_PARAMETER = re.compile(
    r"(?i)[?&;](?:sig|signature|x-amz-signature|x-amz-security-token|x-goog-signature|"
    r"x-goog-credential-secret|token|access_token|refresh_token|id_token|api_key|apikey|"
    r"api-key|key|secret|client_secret|password|pwd|passwd|auth|code|sas|sv_sig|appid|app_key|"
    r"appkey|subscription-key|access_key|private_token|auth_token|apitoken|api_token|"
    r"session|sessionid|jsessionid|phpsessid|sid|voucher|passcode|otp|pin)"
    r"=([^&#;\s\"'<>]{6,})"
)
# Secret paths: webhooks, push and catch hooks, bot tokens, published calendars.
_WEBHOOK = re.compile(
    r"(?i)https?://(?:hooks\.slack\.com/(?:services|workflows|triggers)/[A-Z0-9]+/[A-Z0-9]+/"
    r"|(?:discord|discordapp)\.com/api/webhooks/\d+/"
    r"|[a-z0-9.-]*webhook\.office\.com/webhookb2/[^\s/]+/IncomingWebhook/"
    r"|hooks\.zapier\.com/hooks/catch/\d+/|[^\s/]+/api/push/|api\.telegram\.org/bot"
    r"|[^\s/]+/owa/calendar/[^\s/]+/|[^\s/]+:505[01]/)"  # PRTG HTTP push ports
    r"([A-Za-z0-9_\-:]{6,}(?:/[A-Za-z0-9_\-]{16,}){0,3})"
)
# Any other hook URL: only a machine-made path segment is its secret.
_HOOK_PATH = re.compile(
    r"(?i)https?://[^\s/]+/(?:[^\s/]+/)*?(?:webhooks?|hooks|triggers?)/(?:[^\s/]+/)*?([A-Za-z0-9_\-]{16,})"
)
# Oracle's thin driver puts `user/password@` after the scheme.
_JDBC_USER_SLASH = re.compile(r"(?i)\bjdbc:oracle:(?:thin|oci):[^/\s@:]+/([^@\s]+)@")
_BITLOCKER = re.compile(r"(?<![\d-])\d{6}(?:([- ])\d{6})(?:\1\d{6}){6}(?![\d-])")
# crypt(3) hashes and Junos' reversible `$9$`: crackable offline, so secret.
_CRYPT_HASH = re.compile(
    r"(?<![\w$])\$(?:1|2[abxy]?|5|6|7|9|y|apr1|sha1|md5)\$[./A-Za-z0-9,=]{1,64}"
    r"(?:\$[./A-Za-z0-9-]{8,})?"
)
# A key line inside a RADIUS or TACACS+ server block (IOS-XE `radius server X` … ` key Y`).
_AAA_SERVER_KEY = re.compile(
    r"(?im)^[ \t]*(?:radius|tacacs)[ \t-]server\b[^\n]*\n(?:[ \t]+(?!key\b)[^\n]*\n){0,8}"
    r"[ \t]+key[ \t]+(?:[067][ \t]+)?(\S+)"
)
_DASHED_KEY = re.compile(r"(?<![\w-])[A-Z0-9]{4,6}(?:-[A-Z0-9]{4,6}){3,7}(?![\w-])")
# What a dashed code is when a label says so: a product ID, a serial, a part number.
_IDENTIFIER_LABEL = re.compile(
    r"(?i)\b(?:product[ _]?id|serial(?:[ _]?(?:number|no))?|s/n|part[ _]?(?:number|no)|"
    r"model|asset[ _]?tag|order|invoice|sku|build)\b[^\n\w]{0,4}$"
)
_CW_KEY_PAIR = re.compile(
    r"(?<![A-Za-z0-9_.\-])[A-Za-z0-9_.\-]++\+[A-Za-z0-9]{10,64}:([A-Za-z0-9]{10,64})\b"
)
_NT_HASHES = re.compile(r"(?m)^[^:\s]+:\d+:([0-9a-fA-F]{32}):([0-9a-fA-F]{32}):")
_RDP_PASSWORD = re.compile(r"(?i)password 51:b:([0-9A-F]{16,})")
_DEVICE_CONFIG = re.compile(
    r"(?im)(?:\b(?:secret|password)[ \t]+[05789][ \t]+|\bkey[ \t]+7[ \t]+"
    r"|\bcrypto[ \t]+isakmp[ \t]+key[ \t]+|\bpre-shared-key[ \t]+(?:local[ \t]+|remote[ \t]+)?"
    r"|\b(?:radius|tacacs)-server\b[^\n]{0,120}?\bkey[ \t]+(?:[07][ \t]+)?"
    r"|^[ \t]*key[ \t]+[07][ \t]+|\bsnmp-server[ \t]+community[ \t]+"
    r"|\bwpa-psk[ \t]+(?:ascii|hex)[ \t]+\d?[ \t]*|:[ \t]*PSK[ \t]+"
    r"|\bipsec[ \t]+pre-shared-key[ \t]+)"
    r"(\"[^\"\n]+\"|\S+)"
)
_SET_COMMAND = re.compile(r"(?im)^[ \t]*set[ \t]+([\w-]+)[ \t]+(?:ENC[ \t]+)?(\"[^\"\n]*\"|\S+)")
_OTP_KEY = re.compile(
    r"(?i)\b(?:manual|secret|setup|totp|otp)[ \w]{0,20}key[^\n:]{0,40}:[ \t]*"
    r"((?:[A-Z2-7]{4}[ \t]?){4,16})"
)


def detect(text: str) -> Iterator[Finding | None]:
    for match in _VENDOR_TOKENS.finditer(text):
        if not is_dummy(match.group(0)) and "EXAMPLE" not in match.group(0).upper():
            yield finding(match, 0, "api_key")
    for pattern in (_AUTH_HEADER, _BEARER, _API_KEY_HEADER, _URL_USERINFO, _URL_TOKEN_USER,
                    _URL_SECRET_PARAMETER, _JDBC_USER_SLASH):  # fmt: skip
        for match in pattern.finditer(text):
            if not is_placeholder(match.group(1)):
                yield finding(match, 1, "token")
    for match in _WEBHOOK.finditer(text):  # the address's shape says it is a secret
        if not is_dummy(match.group(1)):
            yield finding(match, 1, "token")
    for match in _BASIC.finditer(text):
        if _decodes_to_credentials(match.group(1)):
            yield finding(match, 1, "password")
    for match in _HOOK_PATH.finditer(text):
        if looks_random(match.group(1)):
            yield finding(match, 1, "token")
    yield from _codes(text)
    yield from _device_config(text)


def _codes(text: str) -> Iterator[Finding | None]:
    for match in _BITLOCKER.finditer(text):
        yield finding(match, 0, "recovery_code")
    for match in _DASHED_KEY.finditer(text):
        value = match.group(0)
        if _IDENTIFIER_LABEL.search(text, max(0, match.start() - 24), match.start()):
            continue
        if any(ch.isalpha() for ch in value) and sum(ch.isdigit() for ch in value) >= 2:
            yield finding(match, 0, "recovery_code")
    for match in _CRYPT_HASH.finditer(text):
        if len(match.group(0)) >= 13:
            yield finding(match, 0, "password")
    for match in _AAA_SERVER_KEY.finditer(text):
        yield finding(match, 1, "password")
    for match in _CW_KEY_PAIR.finditer(text):
        yield finding(match, 1, "api_key")
    for match in _NT_HASHES.finditer(text):
        yield finding(match, 1, "password")
        yield finding(match, 2, "password")
    for match in _RDP_PASSWORD.finditer(text):
        yield finding(match, 1, "password")
    for match in _OTP_KEY.finditer(text):
        yield span(text, match.start(1), match.end(1) - (match.group(1)[-1] == " "), "secret")


def _device_config(text: str) -> Iterator[Finding | None]:
    for match in _DEVICE_CONFIG.finditer(text):
        value = match.group(1)
        if re.match(r"\$\d\$", value) or not is_placeholder(value):  # $9$… is a hash
            yield finding(match, 1, "password")
    for match in _SET_COMMAND.finditer(text):
        value = match.group(2)
        if names_a_secret(match.group(1)) and not is_placeholder(value) and value[-1] != ":":
            yield finding(match, 2, "password")


def _decodes_to_credentials(encoded: str) -> bool:
    """Only base64 that decodes to "user:secret" is a credential; "Basic troubleshooting"
    is not."""
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return b":" in decoded
