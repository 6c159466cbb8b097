"""What a lint rule is, and the shared pieces of patterns the rule tables are written with."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"


class Scope(StrEnum):
    LINE = "line"  # one logical line (continuations joined)
    BLOCK = "block"  # a statement with its multi-line blocks and loops


@dataclass(frozen=True)
class Rule:
    """A pattern of dangerous operation, with the plain sentence an engineer reads."""

    name: str
    category: str
    severity: Severity
    pattern: re.Pattern[str]
    message: str
    unless: re.Pattern[str] | None = None  # on the same piece: not this after all
    needs: re.Pattern[str] | None = None  # somewhere in the script, for the rule to apply
    unless_script: re.Pattern[str] | None = None  # somewhere in the script: not this
    scope: Scope = Scope.LINE

    @property
    def id(self) -> str:
        return f"{self.category}.{self.name}"


def rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


H, M = Severity.HIGH, Severity.MEDIUM

# Start of a command word (after a separator, a call operator or a path).
CMD = r"(?:^|[\s;&|(`'\"{=\\/:]|\bsudo\s+)"
# A Windows drive root or the system drive, alone (`C:`, `C:\`, `C:\*`, `%SystemDrive%\`...).
WIN_ROOT = (
    r"(?:[a-z]:|%systemdrive%|\$env:systemdrive|\$\{env:systemdrive\})"
    r"\\?(?:\*(?:\.\*)?)?(?=[\"'\s,;)]|$)"
)
# Folders whose deletion breaks the machine or every user.
WIN_SYSTEM_DIR = (
    r"(?:[a-z]:|%systemdrive%|\$env:systemdrive)\\(?:windows|users|program files(?: \(x86\))?"
    r"|programdata)\\?(?:\*(?:\.\*)?)?(?=[\"'\s,;)]|$)"
    r"|(?:%systemroot%|%windir%|\$env:systemroot|\$env:windir)\\?(?:\*(?:\.\*)?)?(?=[\"'\s,;)]|$)"
)
# A Unix root, home or top-level system directory as a whole argument.
UNIX_TOP = (
    r"(?<![\w.$/-])(?:/|/\*|~/?|~/\*|\$home/?\*?|/(?:bin|boot|dev|etc|home|lib|lib64|opt|root|sbin"
    r"|srv|usr|var)/?\*?)(?=[\"']?(?:\s|$|;|&|\|))"
)
TEMP_PATH = (
    r"(?:%temp%|%tmp%|\$env:te?mp|\\temp\\|\\appdata\\local\\temp|%public%|\$env:public"
    r"|\\users\\public\\|\\downloads\\|%appdata%|\$env:appdata|/tmp/|/var/tmp/|/dev/shm/)"
)
SECURITY_PRODUCTS = (
    r"(?:defender|windefend|sophos|crowdstrike|falcon|sentinel|carbon ?black|cbdefense|cylance"
    r"|eset|kaspersky|mcafee|symantec|trend ?micro|webroot|malwarebytes|mbam|bitdefender"
    r"|huntress|cortex|traps|sysmon|avast|\bavg\b|norton|csagent|datto ?edr"
    r"|threatlocker|cybereason|elastic-agent|wazuh|ossec|clamav)"
)
# Vendors' removal tools for their agents.
SECURITY_UNINSTALLER = (
    r"(?:csuninstalltool|sophos\w*uninstall|uninstall\w*(?:sentinel|sophos|falcon|crowdstrike)"
    r"|sentinelctl[^\n]*unload|\brepairtool\b[^\n]*uninstall)"
)
# Between a program and its arguments, also when Start-Process passes them (-ArgumentList).
ARGS = r"(?:\.exe)?['\"]?\s+(?:-argumentlist\s+)?['\"]?"
DOWNLOAD = (
    r"(?:downloadstring|downloadfile|downloaddata|invoke-webrequest|invoke-restmethod|\biwr\b"
    r"|\birm\b|net\.webclient|start-bitstransfer|bitsadmin\b[^\n]*/transfer|\bcurl(?:\.exe)?\b"
    r"|\bwget\b|urlopen|urllib|requests\.get|certutil[^\n]*-urlcache|http[s]?://)"
)
