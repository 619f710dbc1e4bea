"""Non-answers in the model's own words: "The passages do not mention ...", 文档中未说明……,
"В документах не указано ...".

The answer template asks the model to reply exactly "I don't know" when the passages hold no
answer. The small local model often says so in its own words instead, in English, Chinese or
Russian, and may go on with a guess ("However, you could try ..."). Such an answer is a refusal:
the API, the chat page, the query log and the analytics must count it as one, and its text
(guess included) must not be shown as an answer. While an answer streams, nothing is shown
until its first sentence is complete (`first_sentence_complete`, at most FIRST_SENTENCE_HOLD
characters), so that a non-answer's first sentence never appears as if it were an answer.

What counts is the first sentence: it says that the sources do not contain, mention or specify
the thing, or that the model does not know, cannot find or cannot answer it. A first sentence
that answers makes the whole text an answer, even when a later clause or sentence adds that
something else is not mentioned ("The documentation recommends daily backups [1]; it does not
mention a limit."). Negation about the subject matter ("cron does not run missed jobs") is an
answer: the patterns need the sources or the model as the subject of the negation, or a
reporting verb ("is not specified") closing the clause. Openings that say nothing yet
("Unfortunately,", "Based on the provided passages:", "Sorry.", an echo of the question) are
skipped, and so is a bare "No." followed by more; a text that is nothing but such openings, or
empty, is a non-answer too. So a short answer whose every sentence is a non-answer statement is
one as well: its first sentence already is.

The patterns read the head of the sentence, so the first FIRST_SENTENCE_HOLD characters decide
the same as the whole sentence would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from kb.text.instructions import normalise, sentences
from kb.text.script import CJK

# Characters of a streamed answer held back before anything is shown: a first sentence as long
# as the model's non-answers get ("Based on the provided passages, there is no information
# about ..."), without making a long first sentence wait for its end.
FIRST_SENTENCE_HOLD = 160

# Citation markers as the model writes them: [1], [1, 2], [1-3], [passage 2].
_MARKER = re.compile(r"\[(?:(?:passage|source)\s*)?\d{1,3}(?:\s*[,-]\s*\d{1,3})*\]", re.I)
# The splitter reads after NFKC, which turns ！？ into !?; after them Chinese runs on unspaced.
_CJK_AFTER_BANG = re.compile(rf"(?<=[!?])(?=[{CJK}])")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+(?=[.,;:!?。])")
# Markdown and quotes around a sentence: **I don't know.**, > quoted, - listed.
_LEADING_MARKUP = re.compile(r"^[\s*_#>\"'“”«»•-]+")
_TRAILING_MARKUP = re.compile(r"[\s.!?。…:*_\"'”»)]+$")
# A complete first sentence in a stream: end punctuation before whitespace, a Chinese full stop
# or !? at the very end, a . at the very end unless after a digit (1.5 may be on its way), or a
# line break.
_SENTENCE_ENDED = re.compile(
    r"[.!?。！？][\"'”’»)\]*]*\s+$|[!?。！？][\"'”’»)\]*]*$|(?<!\d)\.[\"'”’»)\]*]*$|\n\s*$"
)
# A bare yes or no: not a non-answer alone, skipped when a sentence follows ("No. The passages
# do not mention it.").
_VERDICT = re.compile(r"(?:no|nope|yes|нет|да|不|不是|没有|是的|是)[.!。]?")

# --- English -------------------------------------------------------------------------------
# What the model was given: passages, context, "the provided documents", "the information given".
_EN_QUALIFIER = (
    r"(?:provided|given|supplied|available|above|retrieved|numbered|following|cited|relevant|"
    r"attached|referenced|shared)"
)
_EN_AFTER = rf"(?:{_EN_QUALIFIER}|provided to me|given to me|you (?:provided|gave|shared)|here)"
_EN_PROMPT_NOUN = r"(?:passages?|excerpts?|snippets?|extracts?|context)"
_EN_NOUN = (
    rf"(?:{_EN_PROMPT_NOUN}|documents?|documentation|docs|texts?|sources?|materials?|information|"
    r"manuals?|guides?|knowledge base)"
)
_EN_DETERMINER = r"(?:(?:the|these|this|those|all(?: the)?|your|my|any) )?"
# Any source, also a bare "the documents" (then only with a reporting verb or an info object).
_EN_SOURCE = rf"{_EN_DETERMINER}(?:{_EN_QUALIFIER} )*{_EN_NOUN}(?: {_EN_AFTER})?"
# Certainly the model's sources: passages and context, or documents qualified as provided.
_EN_PROMPT_SOURCE = (
    rf"{_EN_DETERMINER}(?:(?:{_EN_QUALIFIER} )+{_EN_NOUN}|{_EN_PROMPT_NOUN}|{_EN_NOUN} "
    rf"{_EN_AFTER})(?: {_EN_AFTER})?"
)
# Where a source phrase ends: "in the documents." but not "in the documents folder".
_EN_SOURCE_END = r"(?=$|[.,;:!?)]| (?:but|and|or|so|however|either|at all|yet|nor)\b)"
_EN_NOT = r"(?:do|does|did)(?: not|n'?t)"
_EN_BE_NOT = r"(?:(?:is|are|was|were)(?: not|n'?t)|(?:has|have)(?: not|n'?t) been)"
_EN_HEDGE = (
    r"(?:(?:seem|appear) to )?(?:(?:explicitly|directly|specifically|clearly|actually|really|"
    r"even|precisely) )?"
)
# Verbs of telling: a source that does not say something gives no answer, whatever the object.
_EN_REPORT = (
    r"(?:mention|specify|say|state|discuss|describe|address|explain|detail|cover|indicate|"
    r"clarify|talk about|refer to|reference|answer|tell|define|note|spell out)\b(?! to\b)"
)
# Verbs of holding: "the documents do not include drafts" may be about the subject matter.
_EN_CONTENT = r"(?:contain|include|have|provide|give|offer|list|show|present|hold|supply)\b"
_EN_INFO = (
    r"(?:(?:any|enough|sufficient|specific|explicit|detailed|relevant|direct|clear|further|"
    r"additional|such|this|that|the|an?) )*(?:information|details?|data|mention|answer|specifics|"
    r"reference|explanation|indication|guidance|facts|figures|description|anything|statement)\b"
)
_EN_CONDITION = r"(?!(?:if|when|whenever|unless|where|whether|in case|once|until|while)\b)"

_EN: tuple[re.Pattern[str], ...] = (
    # The passages do not mention / the documentation doesn't specify.
    re.compile(rf"^{_EN_SOURCE}(?: (?:only|also|itself))? {_EN_NOT} {_EN_HEDGE}{_EN_REPORT}"),
    # It does not say. (not "it does not cover hail damage": only the plainest verbs)
    re.compile(rf"^(?:it|they) {_EN_NOT} {_EN_HEDGE}(?:mention|specify|say|state)\b(?! to\b)"),
    # The context does not contain / the provided documents do not include ... (any object).
    re.compile(rf"^{_EN_PROMPT_SOURCE}(?: only| also)? {_EN_NOT} {_EN_HEDGE}{_EN_CONTENT}"),
    # The documents do not contain any information about ...
    re.compile(rf"^{_EN_SOURCE} {_EN_NOT} {_EN_HEDGE}{_EN_CONTENT} {_EN_INFO}"),
    # The passages make no mention of / contain no information / say nothing / are silent on.
    re.compile(
        rf"^{_EN_SOURCE} (?:(?:make|makes|made|contain|contains|have|has|give|gives|provide|"
        rf"provides|offer|offers|include|includes) no {_EN_INFO}|says? nothing|(?:is|are) "
        rf"silent|lacks? {_EN_INFO})"
    ),
    # The passages discuss PDF export but do not mention Visio / only discuss PDF, not Visio.
    re.compile(
        rf"^{_EN_SOURCE} (?:only )?(?:mentions?|discuss(?:es)?|describes?|covers?|talks? about|"
        rf"refers? to|focus(?:es)? on|deals? with|explains?|address(?:es)?)\b[^;]{{0,120}}?"
        rf"(?: but (?:{_EN_NOT} |not |(?:there is|there's) no )|, not | and not )"
    ),
    # None of the passages mention ... / no document specifies ...
    re.compile(
        rf"^(?:none of (?:the|these)|neither of (?:the|these)|neither|no) (?:{_EN_QUALIFIER} )*"
        rf"{_EN_NOUN}(?: {_EN_AFTER})? (?:{_EN_NOT} )?(?:\w+ )?(?:mentions?|specif(?:y|ies)|"
        r"says?|states?|contains?|includes?|discuss(?:es)?|describes?|address(?:es)?|covers?|"
        r"provides?|gives?|answers?|explains?|details?|refers? to|talks? about)\b"
    ),
    # I don't know / I do not have enough information / I have no information.
    re.compile(
        r"^i (?:(?:do not|don'?t|did not|didn'?t) (?:know|have (?:(?:any|enough|sufficient|the|"
        r"that|this|specific|relevant|access to) )*(?:information|details|data|context|answer|"
        r"knowledge))|(?:have|had) no (?:\w+ )?(?:information|details|data|knowledge|answer|idea))"
        r"\b"
    ),
    # I could not find / I cannot determine / I'm unable to answer / I'm not sure.
    re.compile(
        r"^i(?: could not| couldn'?t| cannot| can'?t| can not| was unable to| wasn'?t able to|"
        r" was not able to|(?: am|'m) (?:unable|not able) to| failed to| did not| didn'?t) "
        r"(?:find|locate|determine|answer|tell|say|confirm|identify|see|give|provide|verify|"
        r"infer)\b"
    ),
    re.compile(r"^i(?: am|'m) not (?:sure|certain|aware)\b"),
    # There is no information about ... / there's no mention of ... / there is nothing about ...
    re.compile(
        r"^there(?: is|'s| are| was| were) (?:no|not any|not enough|insufficient)(?: \w+){0,2}? "
        r"(?:information|mention|details?|reference|indication|explanation|answer|documentation|"
        r"specifics|guidance)(?= (?:about|on|regarding|concerning|of|as to|in|for|provided|given|"
        r"available|that|here|to)\b|$)"
    ),
    re.compile(
        r"^there(?: is|'s) nothing (?:about|on|regarding|concerning|in|mentioned|stated|said|"
        r"specified|that)\b"
    ),
    # No information about X is provided / no mention of X / not enough information.
    re.compile(
        r"^(?:no|not enough|insufficient) (?:(?:specific|explicit|relevant|further|detailed) )?"
        r"(?:information|details|mention|context)\b(?: (?:of|about|on|regarding|concerning)\b|"
        r" to answer\b|(?: available| found| provided| given)?$|[^;,]{0,80}? (?:is|was|are|were|"
        r"can be|could be) (?:\w+ )?(?:given|provided|found|available|included|mentioned|stated|"
        r"specified)"
        rf"(?:$| (?:in|by|within) {_EN_SOURCE}{_EN_SOURCE_END}))"
    ),
    # It is not specified in the documentation / X isn't in the passages / unclear from the text.
    re.compile(
        rf"^{_EN_CONDITION}(?:[^;,]{{0,100}}? )?(?:{_EN_BE_NOT}|(?:is|are) nowhere) "
        rf"(?:{_EN_HEDGE}(?:mentioned|specified|stated|described|covered|addressed|discussed|"
        r"documented|given|provided|listed|explained|detailed|included|found|indicated|defined|"
        r"available|present|clear|known|shown|answered|said|contained|referenced) )?"
        rf"(?:anywhere )?(?:in|within|by|from|among|across|on the basis of) {_EN_SOURCE}"
        rf"{_EN_SOURCE_END}"
    ),
    # The licence cost is not specified. (a reporting verb that closes the clause)
    re.compile(
        rf"^{_EN_CONDITION}(?:[^;,]{{0,100}}? )?{_EN_BE_NOT} {_EN_HEDGE}(?:mentioned|specified|"
        r"stated|documented|described|addressed|discussed|explained|detailed)(?: anywhere| here|"
        r" there| either| at all)?$"
    ),
    # Not mentioned. / Not specified in the passages. / Unknown.
    re.compile(
        r"^(?:not (?:(?:explicitly|specifically|clearly) )?(?:mentioned|specified|stated|"
        r"documented|described|found|available|provided|known|given)\b|(?:unknown|unclear|"
        r"no idea|unspecified)$)"
    ),
    # This information is not available / the answer is not provided.
    re.compile(
        rf"^(?:(?:the|this|that|such|any|specific|exact|requested|precise) )*(?:information|"
        rf"answer|details?|data|info)\b(?: [^;,]{{0,60}}?)? {_EN_BE_NOT} (?:\w+ )?(?:available|"
        r"provided|given|found|present|included|mentioned|specified|stated|contained|covered|"
        r"known|clear)\b"
    ),
    # This question cannot be answered / it cannot be determined from the passages.
    re.compile(
        r"^(?:(?:this|the|your|that) question|it|this|that) (?:cannot|can'?t|can not|could not|"
        r"couldn'?t) be (?:answered|determined|confirmed|inferred|established|deduced|verified|"
        r"said|told)\b"
    ),
    re.compile(
        rf"^{_EN_CONDITION}[^;,]{{1,100}}? (?:cannot|can'?t|can not|could not|couldn'?t) be "
        rf"(?:determined|answered|confirmed|inferred|established|deduced|found|known)(?:$| "
        rf"(?:from|based on|given|with|in|using) {_EN_SOURCE}{_EN_SOURCE_END})"
    ),
    # It is impossible to answer / not possible to determine ... from the passages.
    re.compile(
        r"^(?:it is|it's) (?:not possible|impossible) to (?:answer\b|(?:determine|say|tell|know|"
        rf"infer|conclude|confirm|establish)\b(?:$|(?: (?:for sure|for certain|exactly|precisely))"
        rf"?$|[^;]{{0,80}}? (?:from|based on|given|with|using|in) {_EN_SOURCE}{_EN_SOURCE_END}))"
    ),
)

# --- Chinese -------------------------------------------------------------------------------
# After NFKC the full-width comma, colon and semicolon are , : ; (。 stays).
_ZH_QUALIFIER = (
    r"(?:(?:所|您|你)?(?:提供|给出|给定|给|引用|检索到?|列出)的|所给的?|上述的?|以上的?|上面的?|"
    r"这些|该|这几?(?:个|段|篇|份)|现有的?)"
)
_ZH_NOUN = r"(?:参考资料|资料|段落|文档|上下文|材料|知识库|来源|原文|片段|文段|文章|摘录|引文)"
# 文本, 内容, 信息 and 文件 only as "the provided ...": 配置文件中没有指定端口 is about a file.
_ZH_SOURCE = rf"(?:{_ZH_QUALIFIER}*{_ZH_NOUN}|{_ZH_QUALIFIER}+(?:文本|内容|信息|文件))"
_ZH_IN = r"(?:中|里|内|里面|当中|之中)?"
_ZH_NOT = r"(?:并|均|都|也|似乎|好像)?(?:没有|没|未|并未|并没有|不|无|未能|没能)"
_ZH_REPORT = (
    r"(?:明确|具体|直接|详细|清楚|专门|特别)?地?(?:提到|提及|说明|指出|涉及|包含|给出|提供|描述|"
    r"记载|列出|规定|指定|讲到|讲|介绍|说|谈到|谈及|显示|表明|回答|找到|出现|解释|阐述|包括|标明|"
    r"注明|写明|相关|关于|有关)"
)
# A condition: 如果没有指定端口, 未指定端口时, ... (当前, "current", is not one)
_ZH_CONDITION = (
    r"(?!(?:如果|假如|若|要是|倘若|当(?!前)|一旦|除非|只要)|[^。]{0,40}?(?:时|的话)[,;])"
)

_ZH: tuple[re.Pattern[str], ...] = (
    # 资料中没有相关信息 / 文档中未说明 / 所提供的段落没有提到 / X在文档中未提及
    re.compile(
        rf"^{_ZH_CONDITION}[^,;。]{{0,30}}?(?:在|从|于)?{_ZH_SOURCE}{_ZH_IN},?{_ZH_NOT}被?"
        rf"{_ZH_REPORT}"
    ),
    # X未在资料中提及 / 没有在文档中找到
    re.compile(
        rf"^{_ZH_CONDITION}[^,;。]{{0,30}}?{_ZH_NOT}(?:在|于|从){_ZH_SOURCE}{_ZH_IN}被?"
        r"(?:提到|提及|说明|找到|涉及|记载|给出|出现|发现)"
    ),
    # 资料中找不到 / 文档里无法确定
    re.compile(
        rf"^{_ZH_CONDITION}[^,;。]{{0,30}}?(?:在|从)?{_ZH_SOURCE}{_ZH_IN},?(?:找不到|查不到|"
        r"看不到|无从得知|无法(?:找到|确定|得知|判断))"
    ),
    # 没有提到…… / 未提及 / 未说明 (a reporting verb, not 没有指定)
    re.compile(
        rf"^{_ZH_CONDITION}{_ZH_NOT}(?:明确|具体|直接|详细)?(?:提到|提及|涉及|记载|说明|找到|给出|"
        r"谈到|谈及|注明|写明)"
    ),
    # 没有关于X的信息 / 无相关信息 / 找不到答案 / 缺乏具体说明 (not 无法…, not 没有找到命令时)
    re.compile(
        rf"^{_ZH_CONDITION}(?:没有|无(?!法)|缺乏|缺少|并无|暂无|没有找到|找不到|未找到|查不到)"
        r"(?:任何|足够的?|具体的?|明确的?|直接的?|详细的?|相关的?)*(?:关于|有关|涉及)?[^,;。]{0,40}?"
        r"的?(?:相关)?(?:信息|资料|内容|说明|记载|答案|描述|数据|介绍|细节)(?:$|[,.。]|可以|可供|能够|"
        r"来|以)"
    ),
    # 我不知道 / 不清楚 / 我无法回答
    re.compile(
        rf"^{_ZH_CONDITION}(?:我|本人)?(?:不知道|不清楚|不确定|无法回答|无法确定|没有找到|找不到|"
        r"没法回答|不能回答|不能确定)"
    ),
    # 无法从所给段落中找到答案 / 无法根据资料确定 / 无法得知
    re.compile(
        r"^(?:我)?无法(?:从|根据|在|通过|基于)[^。;]{0,30}?(?:找到|确定|回答|得知|判断|"
        r"得出|获取|获得|确认|知道)"
    ),
    re.compile(
        r"^(?:我)?(?:无法|不能|没法|没有办法)(?:回答|确定|得知|判断|确认|知道|找到(?:相关|答案|"
        r"有关|关于|该|此|这|具体|确切|明确))"
    ),
    # 答案不在资料中 / 该问题无法回答
    re.compile(r"^(?:该|这个|此|您的|你的)?(?:问题的)?答案(?:并)?(?:不在|未在|没有在|没有|不|未)"),
    re.compile(r"^(?:该|这个|此|您的|你的)?问题(?:无法|不能|没法)(?:回答|被回答|从|根据)"),
)

# --- Russian -------------------------------------------------------------------------------
# Case-folded, ё read as е. Stems: "предоставленн" matches предоставленных, -ые, -ым ...
_RU_QUALIFIER = (
    r"(?:предоставленн|приведенн|представленн|данн|вышеприведенн|вышеуказанн|имеющ|доступн|"
    r"найденн|процитированн|переданн|указанн)\w*"
)
_RU_NOUN = (
    r"(?:отрывк|фрагмент|документ|текст|контекст|источник|материал|пассаж|выдержк|абзац|цитат|"
    r"справочн|руководств|инструкци|базе знаний)\w*"
)
_RU_SOURCE = rf"(?:{_RU_QUALIFIER} )*{_RU_NOUN}"
_RU_ADVERBS = r"(?:(?:к сожалению|также|тоже|явно|прямо|конкретно|нигде|никак|ничего),? )*"
# Verbs of telling (any object) and of holding (an info object, unless the source is qualified).
_RU_REPORT = (
    r"(?:упомина|упомянут|указыва|указан|говор|сказан|сообща|уточня|освеща|рассматрива|объясня|"
    r"описыва|описан|отвеча|затрагива|раскрыва|оговарива|оговор|каса)\w*"
)
_RU_CONTENT = r"(?:содерж|включа|дает|предоставля|привод|привед|име|представл)\w*"
_RU_INFO = (
    r"(?:информаци|сведени|данных|упоминани|ответ|указани|описани|подробност|детал|пояснени)\w*"
)
_RU_CONDITION = r"(?!(?:если|когда|пока|в случае|при условии|ежели)\b)"

_RU: tuple[re.Pattern[str], ...] = (
    # В предоставленных отрывках не упоминается / в документах не указано / в тексте нет информации
    re.compile(
        rf"^(?:в|во|из) {_RU_SOURCE},? {_RU_ADVERBS}(?:не (?:\w+ )?(?:{_RU_REPORT}|{_RU_CONTENT})|"
        rf"нет (?:\w+ )?{_RU_INFO}|отсутству)"
    ),
    # Предоставленные отрывки не содержат информации / данные фрагменты не упоминают
    re.compile(
        rf"^(?:{_RU_QUALIFIER} )+{_RU_NOUN},? {_RU_ADVERBS}не (?:\w+ )?(?:{_RU_REPORT}|"
        rf"{_RU_CONTENT})"
    ),
    # Документы не упоминают / документация не содержит сведений о ...
    re.compile(
        rf"^{_RU_NOUN},? {_RU_ADVERBS}не (?:\w+ )?(?:{_RU_REPORT}|{_RU_CONTENT} (?:\w+ )?"
        rf"{_RU_INFO})"
    ),
    # Информации о ... нет / сведения об этом отсутствуют / информация не найдена
    re.compile(
        r"^(?:(?:никакой|конкретной|точной|подробной|достаточной) )?(?:информаци|сведени|данны)\w*"
        r"(?: (?:о|об|про|по|насчет|относительно|касательно|по поводу) [^,;]{0,80}?)?"
        rf"(?: (?:в|во) {_RU_SOURCE})? (?:нет\b|отсутству|не (?:\w+ )?(?:найден|предоставлен|"
        r"приведен|указан|содерж|представлен|упомина|дан[аоы]?\b))"
    ),
    # Нет информации о ... / отсутствуют сведения / недостаточно данных
    re.compile(
        r"^(?:нет|отсутству\w*|недостаточно) (?:(?:никакой|конкретной|точной|прямой|явной|"
        rf"подробной|достаточной|достаточно) )?{_RU_INFO}"
    ),
    # Я не знаю / не могу ответить / не уверен / не располагаю информацией
    re.compile(
        r"^(?:я )?(?:не знаю|не могу (?:точно )?(?:ответить|сказать|определить|подтвердить|"
        r"утверждать)|не нашел|не смог (?:найти|определить|ответить)|не располагаю|не уверен|"
        rf"не имею (?:\w+ )?{_RU_INFO})"
    ),
    # Мне не удалось найти информацию / не могу найти ответ (not "не удалось найти пакет")
    re.compile(
        r"^(?:мне |я )?(?:не удалось|не могу|не смог\w*) (?:найти|обнаружить|установить) "
        rf"(?:{_RU_INFO}|в |никак|точн|конкретн|эт)"
    ),
    # Невозможно ответить / нельзя определить на основе предоставленных документов
    re.compile(
        r"^(?:невозможно|нельзя|не представляется возможным) (?:точно |однозначно )?(?:ответить|"
        rf"(?:определить|сказать|установить|понять)(?:$|[^;]{{0,80}}?(?:на основе|по|из|исходя "
        rf"из|в) {_RU_SOURCE}))"
    ),
    # Стоимость лицензии не указана. / Экспорт в Visio не упоминается в документах.
    re.compile(
        rf"^{_RU_CONDITION}(?:[^,;]{{0,100}}? )?(?:(?:нигде|никак|ничего|прямо|явно|конкретно|"
        r"точно) )?не (?:\w+ )?(?:упоминается|упоминаются|упомянут\w*|указан\w*|указывается|"
        r"говорится|сказано|описан\w*|описывается|уточняется|уточнен\w*|оговорен\w*|оговаривается|"
        r"сообщается|приводится|приведен\w*|рассматривается|освещается|раскрывается|"
        rf"документирован\w*)(?:$| (?:в|во|из) {_RU_SOURCE})"
    ),
    # Ответа на этот вопрос нет / ответ не найден
    re.compile(r"^ответ\w* (?:на (?:этот |ваш |данный )?вопрос )?(?:нет\b|не найден|отсутству)"),
)

_STATEMENTS: tuple[re.Pattern[str], ...] = (*_EN, *_ZH, *_RU)

# Openings that say nothing yet, stripped (repeatedly) before the statements are matched.
_OPENINGS: tuple[re.Pattern[str], ...] = (
    # Unfortunately, / Sorry, / I'm afraid / I apologise, but
    re.compile(
        r"^(?:unfortunately|regrettably|sadly|sorry|apologies|however|well|hmm|actually|alas|"
        r"okay|ok)\b[,:!.]? *"
    ),
    re.compile(r"^i(?:'m| am) (?:sorry|afraid)(?: to say)?\b[,.!]? *(?:but |that )?"),
    re.compile(r"^i apologi[sz]e\b[,.!]? *(?:but )?"),
    # Based on the provided passages, / According to the documents: / In the context given,
    re.compile(
        r"^(?:based (?:solely |only |purely )?on|according to|judging (?:by|from)|from|in|given|"
        r"looking (?:at|through)|(?:after|upon) (?:reviewing|reading|checking|examining)|having "
        rf"(?:reviewed|read|checked)|reviewing|with) {_EN_SOURCE}\b(?: (?:you (?:provided|gave|"
        r"shared)|i (?:was given|have|received)))?[,:]? *"
    ),
    # Regarding X, / As for X: (a topic before the statement)
    re.compile(
        r"^(?:as for|regarding|concerning|about|with regard to|with respect to|as to|on the "
        r"(?:question|topic|subject) of) [^,;:]{1,80}[,:] *"
    ),
    # No, / Answer: / To answer your question,
    re.compile(r"^(?:no|nope) *[,:—–-] *"),
    re.compile(r"^(?:the )?(?:short )?answer(?: is)? *: *"),
    re.compile(r"^to answer (?:your|the|this) question *[,:] *"),
    # 抱歉, / 很遗憾 / 不过
    re.compile(
        r"^(?:很抱歉|非常抱歉|抱歉|对不起|不好意思|很遗憾|遗憾的是|可惜|然而|但是|不过)[,!.:]? *"
    ),
    # 根据提供的资料, / 从上述段落来看, / 在资料中
    re.compile(
        rf"^(?:根据|依据|基于|按照|从|在|就|参考)(?:{_ZH_SOURCE}|{_ZH_QUALIFIER}*(?:文本|内容|信息|"
        r"文件))(?:中|里|内|来看|看|所述|而言|的内容|的信息|中的信息)*[,:]? *"
    ),
    # 关于X, (a topic) / 没有, / 答案:
    re.compile(r"^(?:关于|对于|至于|有关)[^,;。]{1,40}, *"),
    re.compile(r"^(?:不|不是|没有) *, *"),
    re.compile(r"^(?:答案|回答|答) *: *"),
    # К сожалению, / Извините, / Увы
    re.compile(r"^(?:к сожалению|увы|извините|простите|однако|впрочем|ну)\b,? *"),
    re.compile(r"^(?:прошу прощения|мне жаль)(?:,? но)?,? *"),
    # Согласно предоставленным отрывкам, / Исходя из документов,
    re.compile(
        r"^(?:согласно|исходя из|на основе|на основании|судя по|в соответствии с|по данным|по) "
        rf"{_RU_SOURCE}(?: \w+)?, *"
    ),
    # Что касается X, / Нет, / Ответ:
    re.compile(r"^(?:что касается|относительно|касательно|по поводу|насчет) [^,;:]{1,80}, *"),
    re.compile(r"^нет *[,—–-] *"),
    re.compile(r"^ответ *: *"),
)


def is_non_answer(text: str) -> bool:
    """True when the answer's first sentence says the sources hold no answer or the model does
    not know it, and when there is nothing but openings (or nothing at all)."""
    after_verdict = False
    for sentence in _sentences(text):
        head = _without_openings(_fold(sentence))
        if _says_nothing(head):
            continue
        if _VERDICT.fullmatch(head):
            after_verdict = True
            continue
        return _states_non_answer(head)
    return not after_verdict


def _states_non_answer(sentence: str) -> bool:
    """One folded sentence, openings removed: its first clause is a non-answer statement."""
    clause = _TRAILING_MARKUP.sub("", sentence.split(";", 1)[0])
    return any(pattern.search(clause) for pattern in _STATEMENTS)


def first_sentence_complete(text: str) -> bool:
    """True once `text`, the answer streamed so far, holds a complete first sentence worth
    deciding on (openings such as "Based on the provided passages:" do not count), or is
    FIRST_SENTENCE_HOLD characters long."""
    if len(text) >= FIRST_SENTENCE_HOLD:
        return True
    parts = list(_sentences(text))
    complete = parts if _SENTENCE_ENDED.search(normalise(text)) else parts[:-1]
    return any(_decides(part) for part in complete)


def _decides(sentence: str) -> bool:
    head = _without_openings(_fold(sentence))
    return not _says_nothing(head) and not _VERDICT.fullmatch(head)


def _sentences(text: str) -> Iterator[str]:
    for sentence in sentences(_MARKER.sub(" ", normalise(text))):
        yield from (part for part in _CJK_AFTER_BANG.split(sentence) if part.strip())


def _fold(sentence: str) -> str:
    folded = sentence.casefold().replace("ё", "е").replace("’", "'").replace("‘", "'")
    folded = _SPACE_BEFORE_PUNCTUATION.sub("", " ".join(folded.split()))
    return _LEADING_MARKUP.sub("", folded)


def _without_openings(sentence: str) -> str:
    stripped = True
    while stripped and sentence:
        stripped = False
        for opening in _OPENINGS:
            shorter = opening.sub("", sentence, count=1)
            if shorter != sentence:
                sentence, stripped = _LEADING_MARKUP.sub("", shorter), True
    return sentence


def _says_nothing(head: str) -> bool:
    """An opening only, punctuation only, or a question (the model echoing what was asked)."""
    return not any(ch.isalnum() for ch in head) or head.rstrip("*_\"'”») ").endswith("?")
