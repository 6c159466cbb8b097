"""Mass changes (every account, service, process or file at once) and new ways in
(privileged accounts, backdoors, autostarts from temporary folders, remote access for all)."""

from __future__ import annotations

from plugin.kernel.script_lint.rules import TEMP_PATH, UNIX_TOP, WIN_ROOT, H, M, Rule, Scope, rx

_MASS = "wildcard_mass_change"
_BACKDOOR = "persistence_or_backdoor"

# A source that yields everything of its kind: every AD user, mailbox, service, process...
_ALL_OF_A_KIND = (
    r"(?:get-ad(?:user|computer|group|object)\b[^\n|]*-filter\s+['\"{]?\s*\*"
    r"(?![^\n|]*-searchbase\s+['\"]?ou=)"
    r"|get-(?:mailbox|recipient|casmailbox)\b[^\n|]*-resultsize\s+unlimited"
    r"|get-(?:mguser|azureaduser|msoluser)\b[^\n|]*-all\b"
    r"|(?:^|[;(]|\s)(?:get-localuser|get-process|gps|get-service|gsv|get-scheduledtask"
    r"|get-vm|get-printer|get-aduser|get-mailbox)\s*(?:-name\s+['\"]?\*['\"]?\s*)?(?=\||$)"
    r"|get-(?:childitem|item)\b[^\n|]*(?:currentcontrolset\\services['\"]?\s*(?=\|)"
    r"|['\"\s]" + WIN_ROOT + r"[^\n|]*-recurse|-recurse[^\n|]*['\"\s]" + WIN_ROOT + r"))"
)
# What changes or destroys each item it is handed.
_WRITE = (
    r"(?:\b(?:stop|disable|remove|restart|set|reset|clear|update|move|rename|revoke|suspend)"
    r"-[a-z]+\b|\bkill\b|\bspps\b|\bri\b|\brm\b|\bdel\b|\.delete\s*\()"
)

RULES: tuple[Rule, ...] = (
    Rule(
        "everything_piped_to_write",
        _MASS,
        H,
        rx(_ALL_OF_A_KIND + r"[\s\S]*?\|[\s\S]*?" + _WRITE),
        "Changes or deletes every item of a kind at once (all users, mailboxes, services, "
        "processes or files), with no filter.",
        unless=rx(r"-whatif\b|\|\s*(?:start-service|enable-\w+)\b[^|]*$"),
        scope=Scope.BLOCK,
    ),
    Rule(
        "wildcard_name",
        _MASS,
        H,
        rx(
            r"\b(?:stop|restart|disable|remove|suspend)-(?:service|process|localuser|vm|aduser)\b"
            r"[^\n]*-(?:name|identity)\s+['\"]?\*['\"]?(?:\s|$)"
        ),
        "Acts on every service, process or account: the name is a wildcard.",
    ),
    Rule(
        "every_unit",
        _MASS,
        H,
        rx(
            r"\bsystemctl\s+(?:stop|disable|mask|kill)\s+(?:--\s+)?['\"]?\*(?:\.\w+)?['\"]?(?:\s|$)"
        ),
        "Stops or disables every systemd unit.",
    ),
    Rule(
        "every_unit_restart",
        _MASS,
        M,
        rx(r"\bsystemctl\s+restart\s+(?:--\s+)?['\"]?\*(?:\.\w+)?['\"]?(?:\s|$)"),
        "Restarts every systemd unit.",
    ),
    Rule(
        "kill_everything",
        _MASS,
        H,
        rx(
            r"\bkill\s+-(?:9|kill|term|s\s+\w+)\s+-1\b|\bkillall\b[^\n]*-r\s+['\"]?\.\*?['\"]?(?:\s|$)"
            r"|\btaskkill\b[^\n]*/im\s+['\"]?\*['\"]?(?:\s|$)|\bpkill\b[^\n]*-u\s+['\"]?\$"
        ),
        "Kills every process (of every user, or of all matching users).",
    ),
    Rule(
        "recursive_permissions_root",
        _MASS,
        H,
        rx(
            r"\b(?:chmod|chown|chgrp|setfacl)\s+(?:-\w+\s+)*-[a-z]*R[a-z]*\b[^\n;|&]*?\s"
            + UNIX_TOP
            + r"|\bfind\s+/\s[^\n]*-exec\s+(?:chmod|chown|chgrp)\b"
            r"|\b(?:icacls|cacls)(?:\.exe)?\s+['\"]?" + WIN_ROOT + r"[^\n]*/(?:t|grant)"
            r"|\btakeown(?:\.exe)?\b[^\n]*/f\s+['\"]?(?:[a-z]:\\?(?:windows|program files)?"
            r"|%systemroot%|%windir%)['\"]?\s[^\n]*/r\b"
        ),
        "Changes ownership or permissions of a whole drive or system tree recursively.",
    ),
    Rule(
        "wmic_mass_change",
        _MASS,
        H,
        rx(r"\bwmic\b[^\n]*\bwhere\b[^\n]*\b(?:set|delete|call\s+(?:uninstall|terminate))\b"),
        "Changes or deletes every object a broad WMI query matches.",
        unless=rx(r"shadowcopy|\bname\s*=\s*['\"][^%*'\"]+['\"]"),
    ),
    Rule(
        "execution_policy_machine",
        _MASS,
        M,
        rx(
            r"\bset-executionpolicy\b(?=[^\n]*\b(?:unrestricted|bypass)\b)(?![^\n]*-scope\s+(?:process|currentuser))"
        ),
        "Lets every user run any PowerShell script on this machine (execution policy).",
    ),
    Rule(
        "admin_group_member",
        _BACKDOOR,
        H,
        rx(
            r"\bnet(?:\.exe)?\s+localgroup\s+['\"]?(?:administrators|remote desktop users)['\"]?"
            r"\s+(?!['\"]?[\w.-]+\\)[^\n/]*?/add\b"
            r"|\badd-localgroupmember\b[^\n]*-group\s+['\"]?administrators['\"]?"
            r"(?![^\n]*-member\s+['\"]?[\w.-]+\\)"
            r"|\badd-adgroupmember\b[^\n]*(?:domain|enterprise|schema)\s+admins"
            r"|\bnet(?:\.exe)?\s+group\s+['\"](?:domain|enterprise|schema) admins['\"][^\n]*/add"
        ),
        "Makes an account an administrator (a new privileged account is a way in).",
    ),
    Rule(
        "guest_enabled",
        _BACKDOOR,
        H,
        rx(r"\bnet\s+user\s+guest\s+/active:yes|\benable-localuser\b[^\n]*guest"),
        "Enables the Guest account.",
    ),
    Rule(
        "root_account",
        _BACKDOOR,
        H,
        rx(
            r"\buseradd\b[^\n]*-o\b[^\n]*-u\s*0\b|\busermod\b[^\n]*-u\s*0\b|:0:0:[^\n]*>>\s*/etc/passwd"
            r"|nopasswd:\s*all|>>\s*/etc/sudoers|authorized_keys|\bchmod\s+(?:u\+s|[246]7\d\d)\s+"
            r"/(?:usr/)?bin/(?:ba|da|z)?sh\b"
        ),
        "Creates a root-equivalent account, passwordless sudo, an SSH key login or a set-uid "
        "shell (a backdoor).",
        unless=rx(r"^\s*#|chmod\s+600[^\n]*authorized_keys|\bcat\b[^\n]*authorized_keys$"),
    ),
    Rule(
        "autostart_from_temp",
        _BACKDOOR,
        H,
        rx(
            r"(?:\\currentversion\\run(?:once)?\b|\bschtasks\b[^\n]*/create|new-scheduledtaskaction"
            r"|\bsc(?:\.exe)?\s+create\b|\bnew-service\b|^\s*execstart=|\bcrontab\b|@reboot)"
            r"[^\n]*" + TEMP_PATH
        ),
        "Makes a program in a temporary or public folder start automatically (persistence).",
    ),
    Rule(
        "scheduled_task_temp",
        _BACKDOOR,
        H,
        rx(r"\bregister-scheduledtask\b"),
        "Registers a scheduled task that runs a program from a temporary or public folder.",
        needs=rx(r"new-scheduledtaskaction[^\n]*" + TEMP_PATH),
    ),
    Rule(
        "debugger_hijack",
        _BACKDOOR,
        H,
        rx(r"image file execution options[^\n]*(?:debugger|globalflag)|\\silentprocessexit\\"),
        "Sets a debugger for a program through Image File Execution Options (the sticky-keys "
        "backdoor and its kin).",
    ),
    Rule(
        "wmi_subscription",
        _BACKDOOR,
        H,
        rx(
            r"__eventfilter|commandlineeventconsumer|activescripteventconsumer|__filtertoconsumerbinding"
        ),
        "Creates a permanent WMI event subscription (a hidden way to run code).",
    ),
    Rule(
        "startup_folder_drop",
        _BACKDOOR,
        M,
        rx(
            r"(?:-outfile|-destination|copy-item|downloadfile|move-item)[^\n]*\$?startup\b"
            r"|\\start menu\\programs\\startup\\|shell:startup"
        ),
        "Puts a program in a Startup folder, so it runs at every sign-in.",
    ),
    Rule(
        "rdp_open_to_all",
        _BACKDOOR,
        M,
        rx(
            r"3389[^\n]*(?:remoteip=any|-remoteaddress\s+['\"]?any\b)"
            r"|(?:remoteip=any|-remoteaddress\s+['\"]?any\b)[^\n]*3389"
        ),
        "Opens Remote Desktop to any address on the network.",
    ),
)
