"""Credentials and identity numbers: API tokens (ours always), passwords written into a
question, national id and passport numbers of the United States, China and Russia.

Numbers whose format has a checksum (Chinese resident id, SNILS) are taken wherever they
stand; shapes without one are taken only after a word that names them ("passport", "ИНН",
"身份证"), so part numbers and sizes stay readable.
"""

from __future__ import annotations

import re

from kb.tokens import TOKEN_PREFIX

# Our own tokens (kb.tokens): the prefix and at least 16 URL-safe characters, so a truncated
# token is still hidden. OWN_TOKEN finds whole ones to revoke.
_TOKEN_BODY = r"[A-Za-z0-9_-]"  # noqa: S105 - a pattern, not a secret
_TOKEN = re.compile(rf"(?<!{_TOKEN_BODY}){re.escape(TOKEN_PREFIX)}{_TOKEN_BODY}{{16,}}")
OWN_TOKEN = re.compile(
    rf"(?<!{_TOKEN_BODY}){re.escape(TOKEN_PREFIX)}{_TOKEN_BODY}{{43}}"
    rf"(?!{_TOKEN_BODY})"
)
# Other people's credentials that are as unmistakable: bearer headers, GitHub, Slack, AWS keys.
_SECRET = re.compile(
    r"(?i:\bbearer\s+)[A-Za-z0-9._~+/-]{12,}=*"
    r"|\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{30,}|xox[abprs]-[A-Za-z0-9-]{10,}"
    r"|sk-[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16})\b"
)

# "password is X", "пароль: X", "密码是X": the label and separator stay, the value goes. A value
# after a bare space must hold a digit or symbol ("password reset" is no password), and common
# words after "is" are kept ("my password is expired").
_LABEL_EN = (
    r"\b(?:password|passwd|passphrase|passcode|pin code|pwd|pin)"
    r"(?:\s+(?:for|to|of|on)\s+[\w.@-]+)?"
)
_LABEL_RU = r"(?:парол[ьяюе]м?|пин-?код\w*|код доступа)(?:\s+(?:от|для|к)\s+[^\s:=]+)?"
_PASSWORD = re.compile(
    rf"(?P<label>{_LABEL_EN}|{_LABEL_RU})"
    r"(?P<sep>\s*(?:[:=—–]|\s-|is(?: now| still)?\b|was\b|это\b|-\s)\s*|\s+)"
    r"(?P<value>\"[^\"\n]{1,64}\"|'[^'\n]{1,64}'|[^\s\"']{1,64})"
    r"|(?P<zlabel>密码|口令|PIN码)(?P<zsep>\s*(?:是|为|:|=)?\s*)(?P<zvalue>[!-~]{1,64})",
    re.IGNORECASE,
)
_NOT_A_PASSWORD = frozenset(
    """expired wrong incorrect invalid not no too the a an being still reset changed locked
    required correct empty missing blank weak strong short long different same case saved
    stored set policy manager field rules requirements change expiry expiration and or for to
    of on in at with after before when that this it my your again working accepted rejected
    visible hidden ok fine rotated there here
    не от для был была истёк истек сброшен неверный неправильный и на в с по при""".split()  # noqa: SIM905
)
_UNITS_AFTER = re.compile(
    r"\s*(?:characters|chars|letters|digits|symbols|days|weeks|months|years|times|minutes"
    r"|hours|символ\w*|дн\w*|раз\w*)\b",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?)»"
_BARE_COMMANDS = frozenset({"pwd", "pin"})

# National ids and passports that carry a checksum or an unmistakable shape.
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
_CN_ID = re.compile(
    r"(?<![0-9A-Za-z])[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}"
    r"[\dXx](?![0-9A-Za-z])"
)
_SNILS = re.compile(r"(?<![\d-])\d{3}[- ]\d{3}[- ]\d{3}[- ]\d{2}(?![\d-])")
_RU_PASSPORT = re.compile(r"(?<![\d-])\d{2} ?\d{2} (?:№ ?)?\d{6}(?![\d-]| \d)")  # not Amex 4-6-5
# After a word naming it: any number-like value, letters allowed around the digits.
_NAMED_ID = re.compile(
    r"(?P<label>\b(?:SSN|social security(?: number)?|passport(?: number| no\.?| #)?"
    r"|driver'?s licen[cs]e(?: number)?|national id(?: number)?|tax id|ID number|ИНН|СНИЛС"
    r"|паспорт\w*(?: серия и номер| серии)?|серия и номер)"
    r"|身份证(?:号码|号)?|护照(?:号码|号)?|社保号)"
    r"(?P<sep>(?:\s*(?:is|:|#|№|=|number|номер|no\.?|是|为)\s*)*|\s+)"
    r"(?P<value>[A-Za-z]{0,2}\d(?:[\d-]|\s(?=\d))*\d[A-Za-z]?)",
    re.IGNORECASE,
)


def token_candidates(text: str) -> list[str]:
    """Strings of our own token format, to be looked up and revoked (kb.services.api_tokens)."""
    return OWN_TOKEN.findall(text)


def redact_credentials(text: str) -> str:
    text = _TOKEN.sub("[token]", text)
    text = _SECRET.sub("[secret]", text)
    return _PASSWORD.sub(_replace_password, text)


def redact_identity_numbers(text: str) -> str:
    text = _NAMED_ID.sub(_replace_named_id, text)
    text = _CN_ID.sub(lambda m: "[id]" if _cn_id_valid(m.group()) else m.group(), text)
    text = _SNILS.sub(lambda m: "[id]" if _snils_valid(m.group()) else m.group(), text)
    text = _SSN.sub("[id]", text)
    return _RU_PASSPORT.sub("[passport]", text)


def _replace_password(match: re.Match[str]) -> str:
    if match.group("zlabel"):
        label, sep, value = match.group("zlabel", "zsep", "zvalue")
        bare = not sep.strip()
    else:
        label, sep, value = match.group("label", "sep", "value")
        bare = not sep.strip()
    kept = value.rstrip(_TRAILING) if value[0] not in "\"'" else value
    tail = value[len(kept) :]
    if bare and label.lower() in _BARE_COMMANDS:
        return match.group()  # "pwd /srv", "pin lodash@4": a command, not a credential
    if not _looks_like_password(kept, bare=bare, after=match.string[match.end() :]):
        return match.group()
    return f"{label}{sep}[password]{tail}"


def _looks_like_password(value: str, *, bare: bool, after: str) -> bool:
    if not value or value.lower() in _NOT_A_PASSWORD or value.startswith("["):
        return False
    if _UNITS_AFTER.match(after):
        return False  # "password is 12 characters"
    return not bare or any(not char.isalpha() for char in value)


def _replace_named_id(match: re.Match[str]) -> str:
    label = match.group("label")
    kind = "passport" if re.search("passport|паспорт|серия|护照", label, re.I) else "id"
    return f"{label}{match.group('sep')}[{kind}]"


def _cn_id_valid(number: str) -> bool:
    """GB 11643 (ISO 7064 MOD 11-2) check character."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(char) * weight for char, weight in zip(number[:17], weights, strict=True))
    return "10X98765432"[total % 11] == number[17].upper()


def _snils_valid(number: str) -> bool:
    digits = re.sub(r"\D", "", number)
    weights = range(9, 0, -1)
    total = sum(int(char) * weight for char, weight in zip(digits[:9], weights, strict=True))
    check = total % 101 % 100
    return f"{check:02d}" == digits[9:]
