"""Postal addresses in English, Russian and Chinese writing.

An address is taken when it has a street of a known kind and a house number ("221B Baker
Street", "ул. Ленина, д. 5", "建国路88号"), with the city, postcode and flat around it; a city
or country alone ("the Berlin office") is no address and stays.
"""

from __future__ import annotations

import re

from kb.text.script import HAN_BASIC

_EN_STREET = (
    r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl"
    r"|Square|Sq|Terrace|Parkway|Pkwy|Highway|Hwy|Crescent|Close|Gardens|Row|Mews"
)
_EN_ADDRESS = re.compile(
    rf"\b\d{{1,6}}[A-Za-z]?,?\s+(?:[A-Z][a-z]+\.?\s+){{1,4}}(?:{_EN_STREET})\b\.?"
    r"(?:,?\s*(?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor|Fl)\.?\s*#?[\w-]+)?"
    r"(?:,\s*[A-Z][a-z]+(?: [A-Z][a-z]+)?)?"  # city
    r"(?:,?\s*[A-Z]{2}\s+\d{5}(?:-\d{4})?)?"  # state and ZIP
    r"(?:,?\s*[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2})?"  # UK postcode
    r"|\bP\.?\s?O\.?\s+Box\s+\d+"
)
_RU_STREET = (
    r"ул\.|улиц[аеуы]|пр-т|просп\.|проспект[аеу]?|пер\.|переул(?:ок|ке|ка)|ш\.|шоссе|б-р"
    r"|бульвар[аеу]?|наб\.|набережн(?:ая|ой|ую)|пл\.|площад[ьи]|проезд[аеу]?"
)
_RU_HOUSE = (
    r",?\s*(?:д\.|дом)?\s*\d+[а-яА-Я]?(?:/\d+)?"
    r"(?:,?\s*(?:корп\.|корпус|к\.|стр\.|строение)\s*\d+)?"
    r"(?:,?\s*(?:кв\.|квартира|оф\.|офис)\s*\d+)?"
)
_RU_ADDRESS = re.compile(
    r"(?:\d{6},?\s*)?(?:(?:г\.|город)\s*[А-ЯЁ][а-яё-]+,?\s*)?"
    rf"(?:(?:{_RU_STREET})\s*[А-ЯЁ0-9][а-яё0-9-]*(?:\s+[А-ЯЁ][а-яё-]*)?"
    rf"|[А-ЯЁ][а-яё-]+\s+(?:{_RU_STREET})){_RU_HOUSE}"
)
# A place name is CJK text without the little words that run into it ("我住在北京市…").
_ZH_PLACE = rf"(?:(?![在是的住于到从往寄送我你他她和与请址为])[{HAN_BASIC}])"
# Each division is atomic and there are at most four: a run of "市市市…" would otherwise be
# split every possible way before the search gives up (exponential time).
_ZH_ADDRESS = re.compile(
    rf"(?:(?>{_ZH_PLACE}{{2,6}}?(?:省|自治区|市|区|县|镇))){{0,4}}"
    rf"{_ZH_PLACE}{{1,6}}?(?:路|街|大道|巷|胡同|里)\d++号"
    r"(?:\d++(?:栋|幢|号楼|单元|楼|层|室)){0,4}"
)


def redact_addresses(text: str) -> str:
    text = _EN_ADDRESS.sub("[address]", text)
    text = _RU_ADDRESS.sub("[address]", text)
    return _ZH_ADDRESS.sub("[address]", text)
