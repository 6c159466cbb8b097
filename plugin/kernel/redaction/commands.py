"""Secrets on command lines, by what each admin tool does with its arguments: `net use`'s
positional password, `psexec -p`, `mysql -pSECRET`, `curl -u user:secret`, `smbclient -U
user%secret`, `echo secret | sudo -S`, PowerShell's ConvertTo-SecureString and credential
constructors.

A line is split into words (quotes kept together); wherever a known tool's name appears, the
words after it up to the next `|`, `&&`, `;` are read as that tool's arguments.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from plugin.kernel.redaction.findings import Finding, span
from plugin.kernel.redaction.values import is_placeholder

_WORD = re.compile(
    r"\"(?:[^\"\\\n]|\\.)*+\"|'[^'\n]*+'|[^\s\"'|;&]++(?:[\"'][^\"'\n]*+[\"'])?+|[|;&]+"
)
_SEPARATORS = {"|", "||", "&&", ";", "&"}
# Arguments read per tool: keeps a line of a thousand tool names linear, not quadratic.
_MAX_ARGUMENTS = 48


@dataclass(frozen=True)
class Word:
    text: str
    start: int
    end: int

    @property
    def bare(self) -> str:
        return self.text.strip("'\"")


# tool → options whose next word (or attached value) is a secret.
_OPTION_SECRETS: dict[str, tuple[str, ...]] = {
    "psexec": ("-p",), "psexec64": ("-p",), "paexec": ("-p",), "cpau": ("-p",),
    "dsquery": ("-p",), "dsget": ("-p",), "dsmod": ("-pwd",), "dsadd": ("-pwd",),
    "racadm": ("-p",), "mongo": ("-p",), "mongosh": ("-p",), "mongodump": ("-p",),
    "mongorestore": ("-p",), "mongoexport": ("-p",), "docker": ("-p",), "podman": ("-p",),
    "az": ("-p",), "rdesktop": ("-p",), "vmrun": ("-gp", "-vp"), "plink": ("-pw",),
    "putty": ("-pw",), "pscp": ("-pw",), "psftp": ("-pw",), "sqlcmd": ("-P",),
    "bcp": ("-P",), "osql": ("-P",), "isql": ("-P",), "ipmitool": ("-P",),
    "sshpass": ("-p",), "redis-cli": ("-a", "--pass"), "ldapsearch": ("-w",),
    "ldapmodify": ("-w",), "ldapadd": ("-w",), "ldapdelete": ("-w",), "ldappasswd": ("-w", "-s"),
    "snmpwalk": ("-c", "-A", "-X"), "snmpget": ("-c", "-A", "-X"), "snmpset": ("-c", "-A", "-X"),
    "snmpbulkwalk": ("-c", "-A", "-X"), "zip": ("-P",), "unzip": ("-P",),
    "ssh-keygen": ("-P", "-N"), "openssl": ("-k", "-pass", "-passin", "-passout"),
    "ktpass": ("-pass",), "winrs": ("-p",), "schtasks": ("/rp", "/p"), "xfreerdp": ("/p",),
    "wlfreerdp": ("/p",), "sc": ("password=",), "keytool": ("-storepass", "-keypass",
    "-srcstorepass", "-deststorepass"), "gpg": ("--passphrase",), "x11vnc": ("-passwd",),
    "hydra": ("-p",), "lftp": ("-u",), "curl": ("-u", "--user", "--proxy-user", "-U"),
    "smbclient": ("-U", "--user"), "rpcclient": ("-U",), "net": ("-U",), "doctl": ("-t",),
    "mysql": ("-p",), "mysqldump": ("-p",), "mysqladmin": ("-p",), "mariadb": ("-p",),
    "7z": ("-p",), "7za": ("-p",), "7zr": ("-p",), "rar": ("-p", "-hp"), "unrar": ("-p",),
    "influx": ("-password",), "vault": ("-token",), "sentineloneinstaller": ("-t",),
    "wmic": ("/password",), "cmdkey": ("/pass",),
}  # fmt: skip
# Options whose value is `user<sep>secret`: the part after the separator is the secret.
_USER_SECRET_SEPARATOR = {"-u": ":", "--user": ":", "--proxy-user": ":", "-U": "%"}
_LFTP_SEPARATOR = ","
# Tools that take the secret as a value glued to the option (`mysql -pSECRET`, `7z -pX`).
_ATTACHED = ("mysql", "mysqldump", "mysqladmin", "mariadb", "7z", "7za", "7zr", "rar",
             "unrar", "sshpass")  # fmt: skip
# Tools reading a password from standard input.
_STDIN_READERS = {"sudo", "runas", "passwd", "chpasswd", "smbpasswd", "kinit", "vault", "gh",
                  "docker", "podman", "openssl", "psexec"}  # fmt: skip
_PROMPT = re.compile(
    r"^(?:\s*PS [^>\n]*>|\s*[A-Z]:\\[^>\n]*>|\s*[\w.\-]+@[\w.\-]+:[^$#\n]*[$#]"
    r"|\s*(?:ftp|mysql|sql)>)"
)


def detect(text: str) -> Iterator[Finding | None]:
    offset = 0
    for line in text.splitlines(keepends=True):
        yield from _line(text, offset, line)
        offset += len(line)
    yield from _powershell(text)
    yield from _ftp_scripts(text)


def _line(text: str, offset: int, line: str) -> Iterator[Finding | None]:
    prompt = _PROMPT.match(line)
    start = prompt.end() if prompt else 0
    words = [
        Word(m.group(0), offset + m.start(), offset + m.end()) for m in _WORD.finditer(line, start)
    ]
    for word in words:
        if len(word.text) > 12 and word.text[0] in "'\"" and " " in word.text:
            # A command quoted inside another (`ssh host 'echo x | sudo -S …'`).
            yield from _line(text, word.start + 1, word.text[1:-1])
    for index, word in enumerate(words):
        tool = _tool_name(word.bare)
        if tool is None:
            continue
        arguments = []
        for following in words[index + 1 : index + 1 + _MAX_ARGUMENTS]:
            if following.text in _SEPARATORS:
                break
            arguments.append(following)
        yield from _arguments(text, tool, arguments)
        if tool == "echo" or tool == "printf":
            yield from _piped_secret(text, words, index)


def _tool_name(word: str) -> str | None:
    name = re.split(r"[\\/]", word)[-1].lower().removesuffix(".exe")
    if name.startswith("sentineloneinstaller"):
        return "sentineloneinstaller"
    known = name in _OPTION_SECRETS or name in _POSITIONAL or name in ("echo", "printf")
    return name if known else None


def _arguments(text: str, tool: str, arguments: list[Word]) -> Iterator[Finding | None]:
    if tool in _POSITIONAL:
        yield from _POSITIONAL[tool](text, arguments)
    options = _OPTION_SECRETS.get(tool, ())
    for index, word in enumerate(arguments):
        yield from _option_value(text, tool, options, word, arguments[index + 1 : index + 2])


def _option_value(
    text: str, tool: str, options: tuple[str, ...], word: Word, following: list[Word]
) -> Iterator[Finding | None]:
    for option in options:
        value: Word | None = None
        glue = word.text[len(option) : len(option) + 1] if word.text.startswith(option) else None
        if word.text == option and following and tool not in _ATTACHED:
            value = following[0]
        elif glue in (":", "="):
            value = Word(word.text[len(option) + 1 :], word.start + len(option) + 1, word.end)
        elif glue and tool in _ATTACHED and option in ("-p", "-hp"):
            value = Word(word.text[len(option) :], word.start + len(option), word.end)
        if value is None or value.text.startswith("-") and len(value.text) < 3:
            continue
        yield from _secret_of(text, tool, option, value)


def _secret_of(text: str, tool: str, option: str, value: Word) -> Iterator[Finding | None]:
    inner = value.bare
    start = value.start + value.text.find(inner) if inner else value.start
    if tool == "openssl" and inner.startswith("pass:"):
        inner, start = inner[5:], start + 5
    elif tool == "openssl" and option != "-k":
        return
    separator = _LFTP_SEPARATOR if tool == "lftp" else _USER_SECRET_SEPARATOR.get(option)
    if separator is not None and tool not in ("sqlcmd", "bcp", "osql", "isql", "ipmitool"):
        if separator not in inner:
            return
        cut = inner.index(separator) + 1
        inner, start = inner[cut:], start + cut
    if tool.startswith("snmp") and option == "-c" and inner.lower() in ("public", "private"):
        return  # the well-known defaults, not a secret of this customer
    if inner and not is_placeholder(inner) and inner != "*":
        yield span(text, start, start + len(inner), "password")


def _piped_secret(text: str, words: list[Word], index: int) -> Iterator[Finding | None]:
    """`echo secret | sudo -S …`: the echoed words are the secret when piped to a reader."""
    echoed: list[Word] = []
    for position in range(index + 1, min(len(words), index + 1 + _MAX_ARGUMENTS)):
        word = words[position]
        if word.text in _SEPARATORS:
            if word.text != "|" or position + 1 >= len(words):
                return
            reader = _tool_name_plain(words[position + 1].bare)
            if reader in _STDIN_READERS and echoed and not is_placeholder(echoed[0].text):
                first, last = echoed[0], echoed[-1]
                secret = text[first.start : last.end]
                cut = secret.find(":") + 1 if reader == "chpasswd" else 0
                yield span(text, first.start + cut, last.end, "password")
            return
        if not word.text.startswith("-"):
            echoed.append(word)


def _tool_name_plain(word: str) -> str:
    return re.split(r"[\\/]", word)[-1].lower().removesuffix(".exe")


def _positionals(arguments: list[Word]) -> list[Word]:
    return [w for w in arguments if not w.text.startswith(("/", "-")) and "=" not in w.text]


def _net(text: str, arguments: list[Word]) -> Iterator[Finding | None]:
    """`net use [X:] \\\\server\\share PASSWORD`, `net user NAME PASSWORD`."""
    if not arguments:
        return
    verb = arguments[0].bare.lower()
    rest = _positionals(arguments[1:])
    if verb == "use":
        shares = [i for i, w in enumerate(rest) if w.bare.startswith("\\\\")]
        candidates = rest[shares[0] + 1 :] if shares else []
    elif verb == "user" and len(rest) >= 2:
        candidates = rest[1:2]
    else:
        candidates = []
    for word in candidates:
        if word.bare != "*" and not is_placeholder(word.text):
            yield span(text, word.start, word.end, "password")


def _from_position(position: int):
    def secret(text: str, arguments: list[Word]) -> Iterator[Finding | None]:
        words = _positionals(arguments)
        if len(words) > position and not is_placeholder(words[position].text):
            yield span(text, words[position].start, words[position].end, "password")

    return secret


def _htpasswd(text: str, arguments: list[Word]) -> Iterator[Finding | None]:
    if any(w.text.startswith("-") and "b" in w.text for w in arguments):
        words = _positionals(arguments)
        if words:
            yield span(text, words[-1].start, words[-1].end, "password")


def _user_slash_password(text: str, arguments: list[Word]) -> Iterator[Finding | None]:
    """sqlplus/expdp `user/password@db`."""
    for word in _positionals(arguments)[:1]:
        match = re.match(r"[\w$#.]+/([^@\s/]+)", word.bare)
        if match and not is_placeholder(match.group(1)):
            start = word.start + word.text.find(word.bare) + match.start(1)
            yield span(text, start, start + len(match.group(1)), "password")


def _nmcli(text: str, arguments: list[Word]) -> Iterator[Finding | None]:
    for index, word in enumerate(arguments[:-1]):
        if word.bare.lower() in ("password", "wifi-sec.psk", "802-11-wireless-security.psk"):
            yield span(text, arguments[index + 1].start, arguments[index + 1].end, "password")


def _reg(text: str, arguments: list[Word]) -> Iterator[Finding | None]:
    """`reg add … /v DefaultPassword /t REG_SZ /d "secret"`."""
    from plugin.kernel.redaction.values import names_a_secret

    lowered = [w.bare.lower() for w in arguments]
    if "/v" in lowered and "/d" in lowered:
        name = (
            arguments[lowered.index("/v") + 1].bare
            if lowered.index("/v") + 1 < len(arguments)
            else ""
        )
        data = lowered.index("/d") + 1
        if names_a_secret(name) and data < len(arguments):
            yield span(text, arguments[data].start, arguments[data].end, "password")


def _setx(text: str, arguments: list[Word]) -> Iterator[Finding | None]:
    from plugin.kernel.redaction.values import names_a_secret

    words = _positionals(arguments)
    if len(words) >= 2 and names_a_secret(words[0].bare) and not is_placeholder(words[1].text):
        yield span(text, words[1].start, words[1].end, "password")


def _netsh(text: str, arguments: list[Word]) -> Iterator[Finding | None]:
    """`netsh wlan set hostednetwork … key=X`, `netsh wlan add profile … keyMaterial=X`."""
    for word in arguments:
        name, _, value = word.bare.partition("=")
        if name.lower() in ("key", "keymaterial") and value and not is_placeholder(value):
            yield span(text, word.end - len(value) - (word.text[-1] in "'\""), word.end, "password")


def _slmgr(text: str, arguments: list[Word]) -> Iterator[Finding | None]:
    for index, word in enumerate(arguments[:-1]):
        if word.bare.lower() == "/ipk":
            yield span(text, arguments[index + 1].start, arguments[index + 1].end, "recovery_code")


_POSITIONAL = {
    "net": _net,
    "net1": _net,
    "htpasswd": _htpasswd,
    "autologon": _from_position(2),
    "autologon64": _from_position(2),
    "sqlplus": _user_slash_password,
    "expdp": _user_slash_password,
    "impdp": _user_slash_password,
    "nmcli": _nmcli,
    "reg": _reg,
    "setx": _setx,
    "netsh": _netsh,
    "slmgr": _slmgr,
    "wpa_passphrase": _from_position(1),
    "radtest": _from_position(1),
    "nssm": _from_position(4),
    "ngrok": lambda text, arguments: _after_word(text, arguments, ("authtoken", "add-authtoken")),
}


def _after_word(
    text: str, arguments: list[Word], markers: tuple[str, ...]
) -> Iterator[Finding | None]:
    for index, word in enumerate(arguments[:-1]):
        if word.bare.lower() in markers and not is_placeholder(arguments[index + 1].text):
            yield span(text, arguments[index + 1].start, arguments[index + 1].end, "token")


_SECURE_STRING = re.compile(
    r"(?i)\bConvertTo-SecureString\b(?:[ \t]+-String)?[ \t]+("
    + r"\"(?:[^\"`\r\n]|`.)*\"|'(?:[^'\r\n]|'')*'"
    + r"|[^\s\-$(\[{][^\s)]*)"
)
_CREDENTIAL_CONSTRUCTOR = re.compile(
    r"(?i)(?:NetworkCredential|PSCredential|Credential)\]?(?:::new)?[ \t]*\([ \t]*"
    r"(?:\"[^\"\r\n]*\"|'[^'\r\n]*'|\$\w+)[ \t]*,[ \t]*(\"[^\"\r\n]*\"|'[^'\r\n]*')"
)
_HERE_STRING_INPUT = re.compile(
    r"(?i)\b(chpasswd|gh|vault)\b[^\n]*<<<[ \t]*(\"[^\"\n]*\"|'[^'\n]*'|\S+)"
)
_OPENSSL_PASSWD = re.compile(
    r"(?i)\bopenssl[ \t]+passwd(?:[ \t]+-\w+)*[ \t]+(\"[^\"\n]*\"|'[^'\n]*'|[^\s)]+)"
)
_DPAPI_BLOB = re.compile(r"(?i)01000000d08c9ddf0115d1118c7a00c04fc297eb[0-9a-f]{40,}")
_BIND_CALL = re.compile(
    r"(?i)\b(?:simple_bind_s|simple_bind|bind_s|login|authenticate|auth_plain)[ \t]*\([ \t]*"
    r"(?:\"[^\"\r\n]*\"|'[^'\r\n]*')[ \t]*,[ \t]*(\"[^\"\r\n]{3,}\"|'[^'\r\n]{3,}')"
)
_SQL_PASSWORD = re.compile(
    r"(?i)\b(?:IDENTIFIED[ \t]+BY|WITH[ \t]+(?:ENCRYPTED[ \t]+)?PASSWORD)[ \t]+"
    r"('(?:[^'\n]|'')*'|\"[^\"\n]*\")"
)


def _powershell(text: str) -> Iterator[Finding | None]:
    for pattern in (_SECURE_STRING, _CREDENTIAL_CONSTRUCTOR, _OPENSSL_PASSWD, _SQL_PASSWORD,
                    _BIND_CALL):  # fmt: skip
        for match in pattern.finditer(text):
            value = match.group(1)
            bare_word = value[0] not in "'\"" and value.isalpha() and value.islower()
            if not is_placeholder(value) and not bare_word:
                yield span(text, *match.span(1), "password")
    for match in _DPAPI_BLOB.finditer(text):
        yield span(text, *match.span(0), "password")
    for match in _HERE_STRING_INPUT.finditer(text):
        value, (start, end) = match.group(2), match.span(2)
        if match.group(1).lower() == "chpasswd" and ":" in value:
            start += value.index(":") + 1
            end -= value[-1] in "'\""
        yield span(text, start, end, "password")


_FTP_SCRIPT = re.compile(
    r"(?im)^[ \t]*open[ \t]+\S+[ \t]*\r?\n[ \t]*(?:user[ \t]+)?\S+[ \t]*\r?\n[ \t]*"
    r"(?!binary|ascii|put|get|cd|lcd|bye|quit|prompt|mput|mget)(\S+)[ \t]*$"
    r"|^ftp>[ \t]*user[ \t]+\S+[ \t]+(\S+)[ \t]*$"
)


def _ftp_scripts(text: str) -> Iterator[Finding | None]:
    for match in _FTP_SCRIPT.finditer(text):
        group = 1 if match.group(1) else 2
        if not is_placeholder(match.group(group)):
            yield span(text, *match.span(group), "password")
