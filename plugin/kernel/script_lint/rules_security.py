"""Turning security off (antivirus, EDR, firewall, UAC, SELinux, audit) and credential theft."""

from __future__ import annotations

from plugin.kernel.script_lint.rules import (
    SECURITY_PRODUCTS,
    SECURITY_UNINSTALLER,
    TEMP_PATH,
    WIN_ROOT,
    H,
    M,
    Rule,
    rx,
)

_SEC = "security_disable"
_CRED = "credential_dumping"
_TRUE = r"(?:\$true|1|true|yes)\b"

RULES: tuple[Rule, ...] = (
    Rule(
        "defender_preference",
        _SEC,
        H,
        rx(r"\bset-mppreference\b[^\n]*-disable\w*(?:\s*:\s*|\s+)" + _TRUE),
        "Turns off Microsoft Defender protection (real-time, behaviour or script scanning).",
    ),
    Rule(
        "defender_preference_splat",
        _SEC,
        H,
        rx(r"\bdisable\w+\s*=\s*" + _TRUE),
        "Turns off Microsoft Defender protection (through a splatted Set-MpPreference).",
        needs=rx(r"set-mppreference\s+@"),
    ),
    Rule(
        "defender_reporting",
        _SEC,
        M,
        rx(r"-mapsreporting\s+0|-puaprotection\s+0|-submitsamplesconsent\s+2"),
        "Weakens Microsoft Defender (cloud protection, sample submission or PUA blocking off).",
    ),
    Rule(
        "defender_exclusion_broad",
        _SEC,
        H,
        rx(
            r"-exclusion(?:path|process)\b[^\n]*['\"\s,]"
            + WIN_ROOT
            + r"|-exclusionextension\b[^\n]*\.?(?:exe|dll|ps1|bat|cmd|vbs|js|scr)\b"
        ),
        "Excludes a whole drive or executable file types from antivirus scanning.",
    ),
    Rule(
        "defender_exclusion_temp",
        _SEC,
        M,
        rx(r"-exclusion(?:path|process)\b[^\n]*" + TEMP_PATH),
        "Excludes a temporary or public folder from antivirus scanning (where malware lands).",
    ),
    Rule(
        "security_registry",
        _SEC,
        H,
        rx(
            r"\b(?:disableantispyware|disableantivirus|disablerealtimemonitoring"
            r"|disablebehaviormonitoring|disableioavprotection|disableonaccessprotection"
            r"|disablescriptscanning|tamperprotection)\b[^\n]*(?:/d\s+|-value\s+|=\s*)['\"]?"
            r"(?:1|0x1|\$true)\b"
            r"|\benablelua\b[^\n]*(?:/d\s+|-value\s+)['\"]?0\b"
            r"|\bconsentpromptbehavioradmin\b[^\n]*(?:/d\s+|-value\s+)['\"]?0\b"
        ),
        "Turns off antivirus or User Account Control through the registry.",
    ),
    Rule(
        "defender_registry_name",
        _SEC,
        H,
        rx(r"-name\s+['\"]?(?:disableantispyware|disableantivirus|disablerealtimemonitoring)\b"),
        "Turns off Microsoft Defender through the registry.",
        unless=rx(r"-value\s+['\"]?0\b"),
    ),
    Rule(
        "smartscreen",
        _SEC,
        M,
        rx(r"\benablesmartscreen\b[^\n]*(?:/d\s+|-value\s+)['\"]?0\b"),
        "Turns off SmartScreen.",
    ),
    Rule(
        "firewall_off",
        _SEC,
        H,
        rx(
            r"\badvfirewall\s+set\s+\w+\s+state\s+off\b|\bnetsh\s+firewall\s+set\s+opmode\s+"
            r"(?:disable|mode=disable)|\bset-netfirewallprofile\b[^\n]*-enabled\s*:?\s*"
            r"(?:false|\$false|0)\b|\bufw\s+disable\b|\biptables\s+-F\b|\biptables\s+-P\s+"
            r"INPUT\s+ACCEPT|\bnft\s+flush\s+ruleset\b"
        ),
        "Turns the firewall off (or flushes its rules).",
    ),
    Rule(
        "security_service_off",
        _SEC,
        H,
        rx(
            r"(?:\b(?:systemctl\s+(?:stop|disable|mask)|service\s+\S+\s+stop|sc(?:\.exe)?\s+"
            r"(?:stop|delete|config)|stop-service|set-service)\b[^\n]*)"
            r"\b(?:windefend|sense|wdnissvc|mpssvc|wscsvc|securityhealthservice|eventlog"
            r"|sysmon\w*|firewalld|ufw|apparmor|auditd|selinux|csagent|csfalconservice"
            r"|sentinelagent|clamav\w*|wazuh-agent|ossec)\b"
            r"|\bservice\s+(?:auditd|firewalld|apparmor|ufw)\s+stop\b"
        ),
        "Stops or disables a security service (antivirus, EDR, firewall, audit, event log).",
        unless=rx(r"start=\s*auto|-startuptype\s+automatic|\bstart-service\b"),
    ),
    Rule(
        "update_service_off",
        _SEC,
        M,
        rx(
            r"\b(?:sc(?:\.exe)?\s+config|set-service)\b[^\n]*\b(?:wuauserv|usosvc|bits)\b"
            r"[^\n]*(?:start=\s*disabled|-startuptype\s+disabled)"
        ),
        "Disables Windows Update: the machine stops receiving security fixes.",
    ),
    Rule(
        "selinux_off",
        _SEC,
        H,
        rx(r"\bsetenforce\s+0\b|selinux=(?:disabled|permissive)"),
        "Turns SELinux off.",
    ),
    Rule(
        "audit_off",
        _SEC,
        H,
        rx(r"\bauditpol(?:\.exe)?\s+(?:/clear|/remove)|\bauditpol\b[^\n]*:disable\b"),
        "Clears or disables the audit policy: security events stop being recorded.",
    ),
    Rule(
        "boot_integrity_off",
        _SEC,
        H,
        rx(r"\bbcdedit\b[^\n]*\b(?:nointegritychecks|testsigning)\s+on\b"),
        "Turns off driver signature checks at boot (unsigned drivers and rootkits can load).",
    ),
    Rule(
        "safe_boot",
        _SEC,
        M,
        rx(r"\bbcdedit\b[^\n]*\bsafeboot\b"),
        "Boots into Safe Mode, where most security software does not run.",
    ),
    Rule(
        "defender_feature_off",
        _SEC,
        H,
        rx(r"\bdisable-windowsoptionalfeature\b[^\n]*defender"),
        "Removes Microsoft Defender from Windows.",
    ),
    Rule(
        "security_product_uninstall",
        _SEC,
        H,
        rx(
            r"(?:uninstall|remove\b|--purge|\bpurge\b|msiexec[^\n]*/x|/uninstall)[^\n]*"
            + SECURITY_PRODUCTS
            + r"|"
            + SECURITY_PRODUCTS
            + r"[^\n]*(?:uninstall|\bremove\b)"
            + r"|"
            + SECURITY_UNINSTALLER
        ),
        "Uninstalls a security product (antivirus or EDR): the machine loses its protection.",
        unless=rx(r"remove-mppreference|get-mp|exclusion"),
    ),
    Rule(
        "security_tool_run",
        _SEC,
        H,
        rx(r"\b(?:start-process|&)\b[^\n]*(?:uninstall|-argumentlist\s+['\"]/(?:quiet|s)\b)"),
        "Runs an uninstaller of a security product.",
        needs=rx(
            SECURITY_PRODUCTS
            + r"[^\n]*uninstall|uninstall[^\n]*"
            + SECURITY_PRODUCTS
            + "|"
            + SECURITY_UNINSTALLER
        ),
    ),
    Rule(
        "ssh_root_login",
        _SEC,
        M,
        rx(r"permitrootlogin\s+yes|passwordauthentication\s+yes"),
        "Allows root (or password) logins over SSH.",
    ),
    Rule(
        "mimikatz",
        _CRED,
        H,
        rx(
            r"mimikatz|sekurlsa::|lsadump::|privilege::debug|invoke-dcsync|secretsdump"
            r"|lazagne|get-adreplaccount|get-adsyncaccount|invoke-kerberoast|rubeus"
        ),
        "Runs a credential-dumping tool (passwords and hashes of the machine or the domain).",
    ),
    Rule(
        "lsass_dump",
        _CRED,
        H,
        rx(
            r"lsass[^\n]*(?:\.dmp|dump|-ma\b)|(?:procdump|-ma\b|minidump)[^\n]*lsass|comsvcs"
            r"(?:\.dll)?['\"]?\s*,\s*(?:minidump|#24)"
        ),
        "Dumps the memory of LSASS, which holds the credentials of signed-in users.",
    ),
    Rule(
        "hive_save",
        _CRED,
        H,
        rx(r"\breg(?:\.exe)?\s+(?:save|export)\s+['\"]?hklm\\(?:sam|security|system)\b"),
        "Saves the SAM/SECURITY/SYSTEM registry hives, from which password hashes are extracted.",
    ),
    Rule(
        "ntds_copy",
        _CRED,
        H,
        rx(r"ntds\.dit|\bntdsutil\b[^\n]*\bifm\b|\\config\\sam\b"),
        "Copies the Active Directory database (every domain password hash) or the SAM.",
    ),
    Rule(
        "browser_credentials",
        _CRED,
        H,
        rx(r"login data|logins\.json|key[34]\.db|\\local state\b"),
        "Copies the passwords saved in a web browser.",
    ),
    Rule(
        "vault_dump",
        _CRED,
        H,
        rx(r"\bretrievepassword\s*\(|\bpasswordvault\b[^\n]*retrieveall|vaultcmd[^\n]*/list"),
        "Reads the passwords stored in the Windows Credential Vault.",
    ),
    Rule(
        "credential_listing_saved",
        _CRED,
        M,
        rx(r"\bcmdkey(?:\.exe)?\s+/list\b[^\n]*(?:>|out-file|export-csv|set-content)|key=clear\b"),
        "Writes out saved credentials or Wi-Fi keys in clear text.",
    ),
    Rule(
        "unix_secrets",
        _CRED,
        H,
        rx(
            r"/etc/(?:shadow|gshadow)\b|\bunshadow\b|/\.aws/credentials"
            r"|\b(?:cp|tar|zip|scp|rsync|cat|curl|nc|base64|mv)\b[^\n]*(?:\.ssh/id_[\w*]*"
            r"(?![\w*]|\.pub)|/\.ssh(?:/\*)?(?=\s|$)|\.kube/config\b)"
        ),
        "Reads or copies password hashes or private keys.",
        unless=rx(r"^\s*#|\bssh-keygen\b|\bchmod\s+6?00\b"),
    ),
)
