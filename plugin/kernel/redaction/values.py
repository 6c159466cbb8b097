"""What a secret's name and value look like: the vocabulary of secret-bearing keys, and the
tests that tell a credential from a placeholder, a variable or a status word.

Shared by every detector, so "is `PasswordNeverExpires` a secret's name?" and "is `$pw` a
value?" are answered once.
"""

from __future__ import annotations

import re

# The last word of a key that names a secret: `SmtpPassword`, `DB_PASS`, `ms-Mcs-AdmPwd`.
SECRET_NOUNS = frozenset(
    {
        "password", "passwd", "passphrase", "passcode", "pwd", "pass", "pw", "pword",
        "secret", "token", "psk", "pin", "puk", "cpassword",
        "community", "signature", "sig", "passwort", "kennwort", "contrasena", "contraseña",
        "wachtwoord", "senha", "mdp", "apikey", "appkey", "authkey", "secretkey", "authtok",
        "authtoken", "appid" ,
        "privatekey", "accesskey", "accountkey", "psksecret", "adminpassword", "rootpw",
        "skey", "passwordd", "passwordo", "priv", "privkey", "salt", "phash",
    }
)  # fmt: skip
# Names that end like a secret's but name something else: sudo's NOPASSWD tag, a FortiToken
# serial number.
NOT_SECRET_NAMES = frozenset({"nopasswd", "nopassword", "fortitoken", "passwordless"})
# Words before a secret's noun that make the key name something else: a Kubernetes
# `existingSecret` names a Secret object, a `partialProductKey` is five characters of one.
_NOT_THE_SECRET = frozenset({"existing", "partial", "masked", "last", "public", "pub", "hint"})
# Words that end in "pass" without being one.
_PASS_WORDS = frozenset({"bypass", "compass", "overpass", "underpass", "surpass", "trespass",
                         "encompass", "onepass", "firstpass", "askpass", "sshpass"})  # fmt: skip
# Words after the secret noun that say which form it is in: `client-key-data`, `secret_1`.
_FORM_WORDS = frozenset({"data", "value", "b64", "base64", "text", "plain", "enc", "string"})
# Compound words that end in a secret noun: `psksecret`, `adminpassword`, `keypass`.
SECRET_SUFFIXES = ("password", "passwd", "secret", "token", "passphrase", "apikey", "pwd")
# `<qualifier> key` names a secret (`api key`, `AccountKey`); a bare `key` does not.
KEY_QUALIFIERS = frozenset(
    {
        "api", "access", "account", "shared", "sharedaccess", "private", "secret",
        "encryption", "master", "license", "licence", "product", "recovery", "subscription",
        "app", "application", "auth", "signing", "session", "host", "wifi", "network",
        "security", "wpa", "wpa2", "preshared", "pre", "integration", "routing", "acct",
        "storage", "primary", "secondary", "crypt", "passphrase", "psk", "bitlocker",
        "connection", "sas", "webhook", "bypass", "manual", "mfa", "totp", "otp",
        "registration", "install", "installation", "activation", "tenant", "enrollment",
        "client", "management",
    }
)  # fmt: skip
# `<qualifier> code` names a secret (`backup code`); a bare `code` (error code) does not.
CODE_QUALIFIERS = frozenset(
    {
        "recovery", "backup", "bypass", "master", "duress", "alarm", "door", "gate",
        "access", "unlock", "verification", "security", "entry", "keypad", "safe",
        "activation", "reset",
    }
)  # fmt: skip
# Values that say something about a secret without being one.
STATUS_WORDS = frozenset(
    {
        "present", "absent", "required", "enabled", "disabled", "none", "null", "nil",
        "set", "unset", "hidden", "encrypted", "on", "off", "true", "false", "yes", "no",
        "clear", "n/a", "na", "ok", "empty", "undefined", "redacted", "[redacted]",
        "changeme", "secret", "password", "your_password", "yourpassword", "example",
        "sample", "dummy", "placeholder", "xxx", "xxxx", "tbd", "todo", "prompt", "ask",
        "default", "never", "always", "masked", "protected", "sensitive", "stored", "saved",
        "blank", "omitted", "removed", "provided", "given", "same", "correct", "incorrect",
        "wrong", "expired", "valid", "invalid", "unknown", "strong", "weak", "reset",
        "parameter", "parameters", "argument", "switch", "option", "value", "string", "field",
        "flag", "setting", "converts", "accepts", "takes", "is", "was", "must", "should",
    }
)  # fmt: skip

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+|[^\W\d_]+")
_PLACEHOLDER = re.compile(
    r"""^(?:
        [<{\[].*[>}\]].{0,2}         # <password>, {{password}}, [REDACTED]
      | (?:\{\{|\$\{|<|\[).*         # an unclosed slot
      | \$[\w:{(.].*                # $pw, $env:PW, ${PW}, $(...)
      | %[\w]+%.*                   # %PASSWORD%
      | [*xX•.\-_#]{3,}.{0,2}       # ******** or xxxx
      | (?:your|my|the|some|enter)[-_ ]\w*
      | .*[_\ ]here | .*(?:\.\.\.|…)   # a slot or a truncated example
      | .*\byour[-_\ ].* | (?:put|enter|insert|type|paste)[-_\ ].*
      | \*[A-Z*_\ ]+\*                # *SENSITIVE*DATA*DELETED* (a scrubbed unattend.xml)
      | .*(?:EXAMPLE|[Ee]xample).*     # a vendor's documented example key
      | (?:Get|Read|ConvertTo|ConvertFrom|Import|Unprotect|Invoke|New)-[A-Z]\w+\b.*  # a cmdlet
      | [\w.\-]+\.(?:key|pem|crt|cer|pfx|p12|csr|der|jks|kdbx|txt|log|json|xml|conf|cfg|ini
                   |ps1|sh|bat|cmd|exe|msi|zip)  # a file's name
      | \(.* | -\w.*                 # an expression, the next option
      | (?:get-credential|read-host|convertto-securestring|getpass|input)\b.*
      | @\w+.* | !vault\b.* | system\.\w.*securestring.* | \w+\(.*\).*
      | .*://.*                     # a URL is where a secret is, not the secret
    )$""",
    re.IGNORECASE | re.VERBOSE,
)


def key_words(key: str) -> list[str]:
    """`SmtpPassword` → [smtp, password]; `ms-Mcs-AdmPwd` → [ms, mcs, adm, pwd]."""
    return [w.lower() for w in _WORDS.findall(key)]


def names_a_secret(key: str) -> bool:
    """Whether a key, parameter or label names a secret (by its last words)."""
    words = key_words(key)
    while len(words) > 1 and (words[-1].isdigit() or words[-1] in _FORM_WORDS):
        words.pop()
    if not words or words[-1] in NOT_SECRET_NAMES or _NOT_THE_SECRET & set(words[:-1]):
        return False
    last = words[-1]
    if last.endswith("pass") and len(last) > 4 and last not in _PASS_WORDS:
        return True  # FTPPASS, smtppass
    if last == "private" and len(words) > 1 and words[-2] in ("key", "apikey", "api", "token"):
        return True  # MJ_APIKEY_PRIVATE: the private half of a key pair
    if last in SECRET_NOUNS or last.endswith(SECRET_SUFFIXES):
        return True
    before = words[-2] if len(words) > 1 else ""
    if last == "key":
        return before in KEY_QUALIFIERS or (len(words) > 2 and words[-3] in KEY_QUALIFIERS)
    if last in ("code", "codes"):
        return before in CODE_QUALIFIERS
    if last in ("auth", "string") and before in ("basic", "connection"):
        return True
    return last == "auth" and len(words) == 1


def unquote(value: str) -> tuple[str, int]:
    """The value without surrounding quotes, and the offset of its first character."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"`":
        return value[1:-1], 1
    return value, 0


def is_placeholder(value: str) -> bool:
    """Not a value at all: a variable, a prompt, a mask, a template slot, a status word."""
    text = value.strip().strip("'\"").strip()
    if len(text) < 3:
        return True
    if text.lower() in STATUS_WORDS or _PLACEHOLDER.match(text) or is_dummy(text):
        return True
    return _is_path(text)


_PATH = re.compile(r"/?[\w.\-]+(?:/[\w.\-:]+)+/?")


def _is_path(text: str) -> bool:
    """`/usr/bin/systemctl`, `kv/data/ad:join_password`: where a secret is, not one — unless
    its parts are machine-made (a base64 secret has slashes too)."""
    if not _PATH.fullmatch(text) or text.count("/") < 2 and not text.startswith("/"):
        return False
    return not looks_random(text.replace("/", ""), 16)


def is_dummy(token: str) -> bool:
    """An example value: mostly one repeated character (`ghp_xxxxxxxx…`, `TXXXXXXXX`)."""
    body = re.sub(r"^[A-Za-z]{1,6}[_\-.]", "", token)
    if len(body) < 6:
        return False
    most = max(body.count(ch) for ch in set(body))
    return most >= 0.8 * len(body)


_SYMBOLS = set("!@#$%^&*+=?~|<>;:,/\\(){}[]'\"`")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
# What machine-made credentials are written with: base64, base64url, hex, and `~` (Entra).
_TOKEN_CHARACTERS = re.compile(r"[A-Za-z0-9+/_\-.~]+=*")
_GUID = re.compile(
    r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$"
)


def looks_random(token: str, min_length: int = 16) -> bool:
    """A machine-made credential: long, mixing letters and digits, not an identifier shape
    (GUID) nor a long run of one character class."""
    if len(token) < min_length or _GUID.match(token) or not _TOKEN_CHARACTERS.fullmatch(token):
        return False
    letters = sum(ch.isalpha() for ch in token)
    digits = sum(ch.isdigit() for ch in token)
    if letters < 3 or digits < 2 and not (_mixed_case(token) and len(token) >= 24):
        return bool(_HEX.match(token)) and len(token) >= 32
    return len(set(token)) >= 8


def _mixed_case(token: str) -> bool:
    return any(ch.isupper() for ch in token) and any(ch.islower() for ch in token)
