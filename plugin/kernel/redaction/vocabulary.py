"""Word lists the prose detectors consult: ordinary words that are never a password value,
names of products and months that end in a year without being a password, units that follow
a number that is a length rather than a PIN."""

from __future__ import annotations

import re

# After "password is", these are descriptions, not values: "password is expired".
COMMON_WORDS = frozenset(
    """
    a an the her his their its our my your this that these those it he she they we you i me
    him them us for of on in at by with from into onto about as and or but not no nor so
    than then too very still just also only even again already yet ever never expired
    expires expiring expiry incorrect wrong correct right reset changed change changes
    changing required needed missing empty blank same different new old temporary temp
    default saved stored cached synced syncing sync locked unlocked sent shared field box
    prompt prompts prompted manager policy policies complexity length history hint hash
    hashes protected protection issue issues problem problems error errors working works
    worked failed fails failing invalid valid good bad strong weak simple complex long short
    known unknown forgotten forgot lost here there now today yesterday tomorrow later soon
    please pls thanks ok okay yes fine set unset being been be is was are were will would
    should could can may might must have has had do does did done not what which who whom
    whose where when why how all any some each every both either neither one two three first
    last next other another same such reset-link link email mail phone sms text call user
    users admin account accounts login logon sign signin sign-in portal page screen window
    dialog popup pop-up again twice once correctly properly automatically manually see below
    above attached in-use update updated updating updates rotation rotated rotate expiration
    age generator vault keeper manager-app ssPR sspr azure entra intune ad domain local
    """.split()  # noqa: SIM905 — a word list reads better as text
)
# `Office2019`, `Server2022`, `June2024` name things, not passwords.
PRODUCT_WORDS = re.compile(
    r"(?i)^(?:windows|server|office|exchange|sql|sqlserver|win|visualstudio|vs|outlook|"
    r"sharepoint|teams|skype|quickbooks|sage|acrobat|adobe|autocad|revit|lync|dynamics|"
    r"project|visio|access|excel|word|powerpoint|onenote|publisher|centos|ubuntu|debian|"
    r"rhel|macos|ios|android|dell|hp|lenovo|cisco|meraki|fortios|veeam|datto|kaseya|"
    r"ninja|connectwise|march|april|june|july|august|september|october|november|december|"
    r"january|february|quarter|fiscal|tax|budget|report|invoice)"
)
# "password is 14 characters": a length, not a PIN.
UNITS = re.compile(
    r"(?i)[ \t]*(?:characters?|chars?|digits?|days?|hours?|minutes?|mins?|"
    r"attempts?|times?|tries|months?|weeks?|years?|letters?|%|percent)\b"
)
