"""Running code fetched from elsewhere, and hidden (encoded or obfuscated) execution."""

from __future__ import annotations

from plugin.kernel.script_lint.rules import CMD, DOWNLOAD, H, M, Rule, rx

_DL = "download_execute"
_ENC = "encoded_command"

# Installers whose vendors publish a pipe-to-shell one-liner: still flagged, as medium.
_VENDOR_ONE_LINERS = rx(
    r"community\.chocolatey\.org|chocolatey\.org/install|get\.docker\.com|sh\.rustup\.rs"
    r"|raw\.githubusercontent\.com/homebrew|deb\.nodesource\.com|get\.helm\.sh"
    r"|install\.python-poetry"
)
_SHELL = (
    r"(?:(?:sudo\s+(?:-\S+\s+)*)?(?:ba|z|da|k)?sh\b|\bpython[23]?\b|\bperl\b|\bruby\b"
    r"|\bnode\b)"
)
_EVAL_PS = r"(?:\biex\b|invoke-expression|\[scriptblock\]::create|\.invokescript\s*\()"
# -EncodedCommand and every prefix PowerShell accepts for it (-e, -ec, -en, -enc, ...).
_ENCODED_FLAG = r"\s[-/](?:ec|" + "|".join("encodedcommand"[:n] for n in range(14, 0, -1)) + ")"
_DECODER = (
    r"(?:base64\s+(?:-d|--decode|-D)\b|\bxxd\s+-r|openssl\s+(?:enc\s+)?[^\n|]*-d\b[^\n|]*base64"
    r"|openssl\s+base64\s+-d|b64decode|frombase64string|certutil[^\n]*-decode|gzipstream"
    r"|deflatestream|\bunhexlify)"
)


_PIPE_TO_SHELL = Rule(
    "pipe_to_shell",
    _DL,
    H,
    rx(
        r"\b(?:curl|wget|fetch)\b[^\n|]*\|\s*"
        + _SHELL
        + r"|(?:ba|z)?sh\s+(?:-\w+\s+)*<\(\s*(?:curl|wget)\b|(?:source|\.)\s+<\(\s*(?:curl|wget)\b"
        r"|\b(?:ba|z)?sh\s+-c\s+['\"]?\$\(\s*(?:curl|wget)\b|\beval\s+['\"]?\$\(\s*(?:curl|wget)\b"
    ),
    "Downloads a script and runs it at once, unseen and unverified.",
)
_IEX_DOWNLOAD = Rule(
    "iex_download",
    _DL,
    H,
    rx(_EVAL_PS + r"[^\n]*" + DOWNLOAD + r"|" + DOWNLOAD + r"[^\n]*\|\s*" + _EVAL_PS),
    "Downloads PowerShell code and runs it at once (Invoke-Expression), unseen and unverified.",
)

RULES: tuple[Rule, ...] = (
    Rule(
        _PIPE_TO_SHELL.name,
        _DL,
        H,
        _PIPE_TO_SHELL.pattern,
        _PIPE_TO_SHELL.message,
        unless=_VENDOR_ONE_LINERS,
    ),
    Rule(
        _PIPE_TO_SHELL.name + "_vendor",
        _DL,
        M,
        _PIPE_TO_SHELL.pattern,
        "Pipes a vendor's published install script straight into a shell, unverified.",
        needs=_VENDOR_ONE_LINERS,
    ),
    Rule(
        _IEX_DOWNLOAD.name,
        _DL,
        H,
        _IEX_DOWNLOAD.pattern,
        _IEX_DOWNLOAD.message,
        unless=_VENDOR_ONE_LINERS,
    ),
    Rule(
        _IEX_DOWNLOAD.name + "_vendor",
        _DL,
        M,
        _IEX_DOWNLOAD.pattern,
        "Runs a vendor's published PowerShell installer straight from the web, unverified.",
        needs=_VENDOR_ONE_LINERS,
    ),
    Rule(
        "invoke_expression",
        _DL,
        H,
        rx(CMD + r"(?:iex|invoke-expression)\b"),
        "Runs text as PowerShell code (Invoke-Expression): whatever the text says will run.",
        unless=rx(DOWNLOAD + "|" + _DECODER),
    ),
    Rule(
        "remote_script_host",
        _DL,
        H,
        rx(
            r"\bmshta(?:\.exe)?['\"]?\s+['\"]?(?:https?:|javascript:|vbscript:)"
            r"|\bregsvr32\b[^\n]*/i:\s*['\"]?https?:|\brundll32(?:\.exe)?\b[^\n]*javascript:"
            r"|\bmsiexec(?:\.exe)?\b[^\n]*/(?:i|package)\s+['\"]?https?:"
            r"|\bpython[23]?\s+-c\b[^\n]*urlopen[^\n]*exec|exec\s*\([^\n]*urlopen"
        ),
        "Runs code straight from a web address (script host, installer or interpreter).",
    ),
    Rule(
        "encoded_powershell",
        _ENC,
        H,
        rx(_ENCODED_FLAG + r"\s+['\"]?[a-z0-9+/]{16,}={0,2}"),
        "Runs a base64-encoded PowerShell command: what it does is hidden from the reader.",
    ),
    Rule(
        "encoded_powershell_variable",
        _ENC,
        M,
        rx(r"\b(?:powershell|pwsh)(?:\.exe)?['\"]?\b[^\n]*" + _ENCODED_FLAG + r"\s+\$"),
        "Runs an encoded PowerShell command: reviewers and logs see only base64.",
    ),
    Rule(
        "decode_and_run",
        _ENC,
        H,
        rx(
            _DECODER + r"[^\n]*(?:\|\s*" + _SHELL + r"|" + _EVAL_PS + r"|\bexec\s*\(|\beval\b)"
            r"|(?:"
            + _EVAL_PS
            + r"|\bexec\s*\(|\beval\b|\b(?:ba)?sh\s+-c\b)[^\n]*"
            + _DECODER
            + r"|\bxxd\s+-r[^\n]*\|\s*"
            + _SHELL
        ),
        "Decodes hidden (base64, hex or compressed) content and runs it as code.",
    ),
    Rule(
        "obfuscated_invocation",
        _ENC,
        H,
        rx(
            r"[&.]\s*\(\s*(?:\$env:comspec\[|\$shellid\[|\$pshome\[|\$verbosepreference|'[a-z]{1,4}'"
            r"\s*\+|\"[a-z]{1,4}\"\s*\+|\(?\s*['\"][a-z-]+['\"]\s*-join)|-join\s*['\"]{2}\s*\)\s*\$"
            r"|\[char\]\s*\d+\s*\+\s*\[char\]\s*\d+|-bxor\s+0x[0-9a-f]+[^\n]*" + _EVAL_PS
        ),
        "Builds a command name from pieces to hide what runs (an obfuscation technique).",
    ),
    Rule(
        "scriptblock_from_text",
        _ENC,
        H,
        rx(r"\[scriptblock\]::create\s*\((?![\"'][^$\"']*[\"']\s*\))"),
        "Turns text into code at run time ([scriptblock]::Create).",
        unless=rx(DOWNLOAD),
    ),
)
