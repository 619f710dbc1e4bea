"""Text that addresses the assistant or the reader with instructions: the shape of a prompt
injection hidden in an uploaded document.

Company documents describe things and tell employees how to do things; they do not talk to an
AI assistant, tell it to override its rules, or have it tell the reader something about their
account or ask for their password. Four small, explicit rule families, in English, Chinese and
Russian, each a phrase pattern rather than a keyword:

- override: "ignore / disregard / forget ... previous instructions", 忽略…指令, игнорируй…инструкции
- assistant: text addressed to the assistant ("AI assistant: always reply...", "note to the
  model", "when you answer", "you are now...", a "SYSTEM:" line), 助手必须…, ассистент должен…
- reader: telling the user something about them ("tell the user ...", "your access has been
  updated"), 告诉用户, 您的权限已更新, сообщите пользователю, ваш доступ был обновлён
- credentials: asking for a password, code or token to be sent or confirmed ("send your
  password to"), 发送…密码, пришлите…пароль; not when negated ("never send your password").

Used twice: at ingestion a chunk that matches is flagged for the admins (it changes nothing
else), and an answer's links, addresses and credential requests only count as supported by a
source's sentences that do not match (retrieval/answer_checks.py). The false-positive rate on
the benign manuals of `bench/` (Debian handbook en/zh/ru, PostgreSQL docs) is measured by
`python -m bench injection`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

_I = re.IGNORECASE

# Negations that turn a credentials request into a warning ("never send your password").
_NEGATED = re.compile(
    r"(?:\b(?:never|not|don't|do not|no one|nobody)\b|не\s|никогда|никому|"
    r"不要|切勿|请勿|不得|禁止|绝不|不)[^.!?。！？\n]{0,30}$",
    _I,
)

RULES: dict[str, tuple[re.Pattern[str], ...]] = {
    "override": (
        re.compile(
            r"\b(?:ignore|disregard|forget|override|bypass)\s+(?:all\s+|any\s+)?(?:(?:the|your|"
            r"previous|prior|above|earlier|preceding|system|original|existing|other|safety)\s+)"
            r"{1,3}(?:instructions?|prompts?|rules|guidelines|directives|messages?)\b",
            _I,
        ),
        re.compile(
            r"(?:忽略|无视|忘记|忽视|不要理会)掉?(?:你的)?(?:之前|以上|前面|上述|所有|全部|先前|原有|"
            r"原来|系统)[^。！？\n]{0,6}(?:指令|指示|规则|提示|说明)"
        ),
        re.compile(
            r"(?:игнорируй|забудь|не обращай внимания на|пренебреги)(?:те)?\s+(?:все\s+)?"
            r"(?:(?:предыдущ|прежн|ранее данн|системн|сво|ваш|эт|вышеизложенн)\w*\s+){1,2}"
            r"(?:инструкци|указани|правил|промпт|подсказ)",
            _I,
        ),
    ),
    "assistant": (
        re.compile(
            r"\b(?:AI|assistant|chatbot|chat bot|language model|LLM|GPT)\b[,:]?\s+(?:must|should|"
            r"shall|needs? to|has to|always|never|will now|reply|respond|answer|say|tell|state|"
            r"inform|output|print|include|add|mention|cite|claim)\b",
            _I,
        ),
        re.compile(
            r"\b(?:note|message|instructions?|reminder)s?\s+(?:to|for)\s+(?:the\s+|any\s+)?"
            r"(?:AI|assistant|model|chatbot|LLM|bot)\b",
            _I,
        ),
        re.compile(
            r"\bwhen\s+(?:you|the assistant|the AI|the model)\s+"
            r"(?:answer|respond|reply|summari[sz]e)",
            _I,
        ),
        re.compile(
            r"\byou\s+are\s+(?:now\s+)?(?:an?\s+)?(?:AI|assistant|chatbot|language model)\b", _I
        ),
        re.compile(
            r"(?:^|[\n.!?|>]\s*)(?:(?:AI|the)\s+)?(?:system|assistant|chatbot)\s*(?:prompt|message|note)?\s*:",
            _I,
        ),
        re.compile(
            r"(?:AI|人工智能|助手|助理|模型|机器人)[，,:：]?\s*(?:必须|应该|应当|需要|请|务必|一定要)"
        ),
        re.compile(r"(?:致|给)(?:AI|人工智能|助手|助理|模型){1,2}的?(?:说明|指令|提示|消息|备注)"),
        re.compile(r"(?:在)?(?:回答|回复)(?:问题)?时[，,]?\s*(?:请|必须|务必|要)"),
        re.compile(r"你(?:现在)?是一?个?(?:AI|人工智能|助手|语言模型)"),
        re.compile(r"系统(?:提示|指令|消息)[:：]"),
        re.compile(
            r"(?:ассистент|ИИ|модель|чат-?бот|бот|нейросеть)[,:]?\s+(?:должен|должна|обязан|"
            r"всегда|никогда|ответь|отвечай|скажи|сообщи)",
            _I,
        ),
        re.compile(
            r"(?:примечание|сообщение|инструкция|заметка)\s+для\s+(?:ассистента|ИИ|модели|бота)",
            _I,
        ),
        re.compile(
            r"\b(?:при|в)\s+ответе\s+(?:на\s+\w+\s+)?(?:обязательно|всегда|скажи|сообщи)", _I
        ),
        re.compile(r"\bты\s+(?:теперь\s+)?(?:—\s*)?(?:ассистент|ИИ|языковая модель|бот)\b", _I),
    ),
    "reader": (
        re.compile(  # an imperative: at the start of a sentence, cell or list item
            r"(?:^|(?<=[.!?:;\n>|*-]))\s*(?:please\s+|always\s+|also\s+)?(?:tell|inform|notify|"
            r"remind|assure)\s+(?:the\s+|every\s+|each\s+|all\s+)?(?:user|reader|employee|asker|"
            r"customer|requester)s?\b",
            _I,
        ),
        re.compile(
            r"\b(?:tell|inform|notify)\s+(?:the\s+)?users?\s+(?:that\s+)?(?:their|his|her)\s+"
            r"(?:access|account|permissions?|password|credentials)\b",
            _I,
        ),
        re.compile(
            r"\b(?:your|their|the user's)\s+(?:access|account|permissions?|privileges|clearance)"
            r"\s+(?:has|have|was|were|is|are)\s+(?:now\s+)?(?:been\s+)?(?:updated|upgraded|"
            r"changed|restored|granted|elevated|extended|approved|verified)\b",
            _I,
        ),
        re.compile(
            r"(?:请|务必|一定要|必须|^)(?:你|您)?(?:告诉|告知|通知|提醒|转告)(?:用户|读者|员工|提问者)"
        ),
        re.compile(
            r"(?:告诉|告知|通知)(?:用户|读者|员工)[^。！？\n]{0,4}(?:的)?(?:访问|权限|账户|账号)"
        ),
        re.compile(
            r"(?:您|你)的(?:访问权限|权限|账户|账号|帐户|帐号)(?:已经|已)(?:被)?"
            r"(?:更新|更改|变更|升级|恢复|授予|开通|提升|批准)"
        ),
        re.compile(
            r"(?:сообщи|скажи|передай|уведоми|напомни|заверь)(?:те)?\s+(?:всем\s+)?пользовател", _I
        ),
        re.compile(
            r"\bваш[аеи]?\s+(?:доступ|аккаунт|права|полномочия|учётн\w+ запис\w+|учетн\w+ запис\w+)"
            r"\s+(?:был[аои]?\s+|уже\s+)?(?:обновл|измен|восстановл|предоставл|расширен|повышен|"
            r"одобрен|подтвержд)",
            _I,
        ),
    ),
    "credentials": (
        re.compile(  # the reader's own secret: "send your password", "reply with their PIN"
            r"\b(?:send|e-?mail|forward|reply with|provide|share|submit|confirm|verify|give|text)"
            r"\b[^.!?\n]{0,20}?\b(?:your|their|his|her|the user's)\s+(?:\w+\s+){0,2}?(?:password|"
            r"passcode|passphrase|credentials|login details|PIN|one-time code|2FA code|MFA code|"
            r"verification code|API key|access token)s?\b",
            _I,
        ),
        re.compile(
            r"(?:请|立即|马上|并)?(?:发送|提供|告诉我们|回复|提交|发给|发到)(?:您|你)的?[^。！？\n]{0,8}"
            r"(?:密码|口令|验证码|登录凭据|登录凭证)"
        ),
        re.compile(
            r"(?:отправь|пришли|сообщи|укажи|подтверди|предоставь|перешли|вышли)(?:те)?\b"
            r"[^.!?\n]{0,30}?(?:парол|учётные данные|учетные данные|код подтверждения|"
            r"одноразов\w+ код|токен|ключ api)",
            _I,
        ),
    ),
}

# Sentences: after end punctuation, at line breaks, table cell borders and HTML comment marks.
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])|\n+|\s\|\s|<!--|-->")


def normalise(text: str) -> str:
    """NFKC folds full-width letters and punctuation (ｓｅｎｄ, ＠) into the forms the rules use."""
    return unicodedata.normalize("NFKC", text)


def instruction_cues(text: str) -> list[str]:
    """The rule families `text` matches, in RULES order; empty for ordinary text."""
    folded = normalise(text)
    return [name for name, patterns in RULES.items() if _matches(name, patterns, folded)]


def addresses_instructions(text: str) -> bool:
    return bool(instruction_cues(text))


def sentences(text: str, *, as_written: bool = False) -> Iterator[str]:
    """`text`'s sentences, NFKC-normalised unless `as_written` (then each is a substring of
    `text`, for showing where it is)."""
    for part in _SENTENCE_END.split(text if as_written else normalise(text)):
        if part.strip():
            yield part.strip()


def without_instructions(text: str) -> str:
    """`text` with every sentence that addresses the assistant or the reader removed: what a
    source says as information."""
    return "\n".join(s for s in sentences(text) if not addresses_instructions(s))


def _matches(name: str, patterns: tuple[re.Pattern[str], ...], text: str) -> bool:
    for pattern in patterns:
        for match in pattern.finditer(text):
            if name != "credentials" or not _NEGATED.search(text, 0, match.start()):
                return True
    return False
