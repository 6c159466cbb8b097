"""Data destruction, and the deletion of what would bring it back (shadow copies, backups,
snapshots, recovery)."""

from __future__ import annotations

from plugin.kernel.script_lint.rules import (
    ARGS,
    CMD,
    UNIX_TOP,
    WIN_ROOT,
    WIN_SYSTEM_DIR,
    H,
    M,
    Rule,
    Scope,
    rx,
)

_DD = "data_destruction"
_SHADOW = "shadow_copy_deletion"
_RECURSIVE_WIN_DELETE = r"(?:remove-item|\bri|\brm|\bdel|\berase|\brd|\brmdir)"

RULES: tuple[Rule, ...] = (
    Rule(
        "format_volume",
        _DD,
        H,
        rx(r"\b(?:format-volume|clear-disk|remove-partition|initialize-disk\b[^\n]*-removedata)"),
        "Formats or wipes a whole disk or volume: every file on it is lost.",
    ),
    Rule(
        "format_drive",
        _DD,
        H,
        rx(CMD + r"format(?:\.com)?['\"]?\s+['\"]?[a-z]:"),
        "Formats a drive: every file on it is lost.",
    ),
    Rule(
        "diskpart_clean",
        _DD,
        H,
        rx(r"(?:^|\n|echo\s+|[\"'])\s*clean(?:\s+all)?\s*(?:$|\n|>|[\"'])"),
        "Runs diskpart's `clean`, which erases the partition table (and with `all`, every "
        "sector) of the selected disk.",
        needs=rx(r"\bdiskpart\b"),
    ),
    Rule(
        "raw_disk_write",
        _DD,
        H,
        rx(
            r"\b(?:dd\b[^\n]*\bof=['\"]?/dev/(?:sd|hd|vd|xvd|nvme|mmcblk|disk|md|mapper|dm-)"
            r"|mkfs(?:\.\w+)?\b|wipefs\b[^\n]*-(?:a|-all)\b|shred\b[^\n]*/dev/|blkdiscard\b"
            r"|sgdisk\b[^\n]*--zap|mkswap\s+/dev/)"
        ),
        "Writes over a raw disk or creates a new file system on it: the data on it is lost.",
    ),
    Rule(
        "delete_root",
        _DD,
        H,
        rx(
            _RECURSIVE_WIN_DELETE
            + r"\b[^\n|;]*?['\"\s](?:"
            + WIN_ROOT
            + "|"
            + WIN_SYSTEM_DIR
            + r")"
        ),
        "Deletes a whole drive or a system folder (Windows, Users, Program Files).",
        unless=rx(r"-whatif\b"),
    ),
    Rule(
        "delete_root_unix",
        _DD,
        H,
        rx(
            r"\brm\s+(?:-[a-z-]*\s+)*-[a-z]*r[a-z]*\b[^\n;|&]*?\s"
            + UNIX_TOP
            + r"|\brm\b[^\n]*--no-preserve-root|\brm\s+(?:-\w+\s+)*-[a-z]*[rR][^\n;|&]*\s/\*"
        ),
        "Deletes the root, a home or a top-level system directory recursively.",
    ),
    Rule(
        "find_delete_root",
        _DD,
        H,
        rx(r"\bfind\s+(?:/|~|/(?:etc|usr|var|home|root))\s[^\n]*(?:-delete\b|-exec\s+rm\b)"),
        "Deletes files across the whole file system (or a system tree) with find.",
    ),
    Rule(
        "drop_database",
        _DD,
        H,
        rx(r"\b(?:drop\s+(?:database|table|schema)|truncate\s+table)\b"),
        "Drops or empties a database or table: its data is lost.",
    ),
    Rule(
        "clear_event_log",
        _DD,
        H,
        rx(
            r"\b(?:clear-eventlog|remove-eventlog|wevtutil(?:\.exe)?['\"]?\s+(?:cl|clear-log)\b"
            r"|\.clearlog\s*\()"
        ),
        "Clears Windows event logs: the audit trail is destroyed (also a way to hide an attack).",
    ),
    Rule(
        "mailbox_purge",
        _DD,
        H,
        rx(r"\bsearch-mailbox\b[^\n]*-deletecontent|\bnew-compliancesearchaction\b[^\n]*-purge"),
        "Deletes mail content from mailboxes.",
    ),
    Rule(
        "wipe_free_space",
        _DD,
        M,
        rx(r"\bcipher(?:\.exe)?\s+/w"),
        "Overwrites the free space of a drive: deleted files can no longer be recovered.",
    ),
    Rule(
        "wipe_history",
        _DD,
        M,
        rx(
            r"--vacuum-time=\d+s\b|\bhistory\s+-c\b|\bunset\s+histfile\b|>\s*~?/?[\w/.]*"
            r"\.bash_history|\brm\b[^\n]*\.bash_history"
        ),
        "Erases the journal or the shell history: what was done can no longer be traced.",
    ),
    Rule(
        "delete_shadow_copies",
        _SHADOW,
        H,
        rx(
            r"\bvssadmin" + ARGS + r"delete\s+shadows\b|shadowcopy\b[^\n]*\bdelete\b"
            r"|\bvssadmin" + ARGS + r"resize\s+shadowstorage\b"
        ),
        "Deletes (or shrinks away) the Volume Shadow Copies: previous versions of files can no "
        "longer be restored.",
        unless=rx(r"/oldest\b"),
    ),
    Rule(
        "delete_oldest_shadow",
        _SHADOW,
        M,
        rx(r"\bvssadmin(?:\.exe)?\s+delete\s+shadows\b[^\n]*/oldest"),
        "Deletes the oldest Volume Shadow Copy.",
    ),
    Rule(
        "shadow_copy_object_delete",
        _SHADOW,
        H,
        rx(r"\.delete\s*\(\s*\)|\bremove-(?:ciminstance|wmiobject)\b"),
        "Deletes Volume Shadow Copies through WMI/CIM: previous versions can no longer be "
        "restored.",
        needs=rx(r"win32_shadowcopy|shadowcopy"),
    ),
    Rule(
        "delete_backups",
        _SHADOW,
        H,
        rx(
            r"\bwbadmin" + ARGS + r"delete\s+(?:catalog|systemstatebackup|backup)\b"
            r"|\b(?:recoveryenabled\s+no|bootstatuspolicy\s+ignoreallfailures)\b"
            r"|\btimeshift\b[^\n]*--delete|\bzfs\s+destroy\b|\blvremove\b"
            r"|\bbtrfs\s+subvolume\s+delete\b|\bremove-vmsnapshot\b|\bremove-vmcheckpoint\b"
        ),
        "Deletes backups, snapshots or the recovery environment's safety net.",
    ),
    Rule(
        "disable_recovery",
        _SHADOW,
        M,
        rx(r"\breagentc(?:\.exe)?\s+/disable\b|\bdisable-computerrestore\b"),
        "Turns off System Restore or the Windows Recovery Environment.",
    ),
    Rule(
        "splatted_root_delete",
        _DD,
        H,
        rx(r"\bpath\s*=\s*['\"]" + WIN_ROOT.replace(r"(?=[\"'\s,;)]|$)", r"['\"]")),
        "Deletes a whole drive (the path of a splatted Remove-Item is a drive root).",
        needs=rx(r"remove-item\s+@"),
        scope=Scope.BLOCK,
    ),
)
