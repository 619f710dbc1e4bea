"""Contact and payment details: e-mail addresses, phone numbers, payment cards and IBANs.

Precision matters on technical text: versions, ports, dates and error codes stay readable, so
payment numbers are only taken when their checksum holds, and a phone number needs a shape
people write phone numbers in.
"""

from __future__ import annotations

import re

from kb.text.script import CJK, CYRILLIC, GREEK, LATIN

_LOCAL = rf"0-9{LATIN}{GREEK}{CYRILLIC}._%+-"
_LABEL = rf"[0-9{LATIN}{CYRILLIC}{CJK}-]+"
_DOT = r"[.\u3002]"  # NFKC leaves the ideographic full stop of "example。com" as it is
# The local part is Latin, Greek or Cyrillic, or all CJK after a space or colon ("邮箱: 张三@例子.
# 中国"): CJK text runs into an address without a space ("请联系alice@x.cn"). Starting only where
# a local part starts keeps a long run of such characters linear. The TLD is letters of one
# script (lodash@4.17.21 is no address; "alice@x.cn谢谢" ends at "cn").
EMAIL = re.compile(
    rf"(?:(?<![{_LOCAL}])[{_LOCAL}]+|(?:(?<=[\s:])|^)[{CJK}]{{1,32}})"
    rf"@(?:{_LABEL}{_DOT})+"
    rf"(?:[A-Za-z]{{2,}}|[{CYRILLIC}]{{2,}}|[{CJK}]{{2,}})"
)
_IBAN = re.compile(
    r"(?<![0-9A-Za-z_])[A-Z]{2}\d{2}"
    r"(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)(?![0-9A-Za-z_])",
    re.IGNORECASE,
)
# A number is one when no ASCII letter, digit or decimal point touches it; CJK text may.
NUM_START = r"(?<![0-9A-Za-z_+.-])"
NUM_END = r"(?![0-9A-Za-z_]|[.-][0-9])"
_CARD = re.compile(
    NUM_START
    + r"(?:[2-6]\d{12,18}"  # compact; payment cards start with 2-6
    + r"|[2-6]\d{3}(?:[ -]\d{4}){3}(?:[ -]\d{3})?"  # 4-4-4-4(-3)
    + r"|3\d{3}[ -]\d{6}[ -]\d{4,5})"  # Amex and Diners: 4-6-5, 4-6-4
    + NUM_END
)
_PHONE = re.compile(
    NUM_START
    + r"(?:\+\d(?:[ ().-]{0,3}\d){6,16}"  # +1 415 555 0100, +7 (495) 123-45-67, +44 (0) 20…
    + r"|(?:\d{1,2}[ -]?)?\(\d{2,5}\)[ -]?\d{2,4}(?:[ -]?\d{2,4}){1,3}"  # (415) 555-0100
    + r"|[2-9]\d{2}([-. ])[2-9]\d{2}\1\d{4}"  # 415-555-0100, 415.555.0100, 415 555 0100
    + r"|8[ -]?\d{3}[ -]?\d{3}[ -]?\d{2}[ -]?\d{2}"  # 8 495 123 45 67
    + r"|8[ -]\d{3}[ -]\d{3}[ -]\d{4}"  # 8 912 345 6789
    + r"|0\d{1,4}[ -][1-9]\d{1,3}(?:[ -]\d{2,4}){1,2}"  # trunk 0: 020 7946 0958 (not 0644 0755)
    + r"|0\d{2,4}[ -][1-9]\d{5,7}"  # 07700 900123, Chinese landline 010-62345678
    + r"|1[3-9]\d[ -]?\d{4}[ -]?\d{4})"  # 138 0013 8000
    + r"(?:\s?(?:x|ext\.?|доб\.?)\s?\d{1,5})?"  # extension
    + NUM_END
)
PHONE_DIGITS = range(8, 18)  # E.164 allows at most 15, an extension a few more


def redact_contacts(text: str) -> str:
    text = EMAIL.sub("[email]", text)
    text = _IBAN.sub(_replace_iban, text)
    text = _CARD.sub(_replace_card, text)
    return _PHONE.sub(_replace_phone, text)


def _replace_iban(match: re.Match[str]) -> str:
    """The longest valid IBAN at the start of the match: a short word after the last group of
    a spaced IBAN looks like one more group."""
    found = match.group()
    parts = found.split(" ")
    for end in range(len(parts), 0, -1):
        head = " ".join(parts[:end])
        if _iban_valid(head):
            return "[iban]" + found[len(head) :]
    return found


def _iban_valid(text: str) -> bool:
    """ISO 13616 mod-97: hashes and identifiers of the same shape are kept."""
    compact = text.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _replace_card(match: re.Match[str]) -> str:
    return "[card]" if luhn_valid(re.sub(r"\D", "", match.group())) else match.group()


def luhn_valid(digits: str) -> bool:
    """Every card number passes; nine in ten other long numbers (ids, sizes) do not."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char) * (2 if position % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


def _replace_phone(match: re.Match[str]) -> str:
    digits = sum(char.isdigit() for char in match.group())
    return "[phone]" if digits in PHONE_DIGITS else match.group()
