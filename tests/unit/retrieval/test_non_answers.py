"""Non-answers in the model's own words count as refusals; answers that negate something about
the subject matter do not; the stream holds back a first sentence until it can be judged."""

from __future__ import annotations

import pytest

from retrieval.non_answers import FIRST_SENTENCE_HOLD, first_sentence_complete, is_non_answer

pytestmark = pytest.mark.unit

# Ids starting with "model-" are realistic outputs of the local model (Qwen2.5 1.5B instruct,
# answering from numbered passages): the phrasings it was seen to use, and close variants in its
# style. Ids starting with "edge-" are constructed to pin a boundary.
NON_ANSWERS = {
    # English
    "model-en-passages-do-not-mention": "The passages do not mention exporting to Visio.",
    "model-en-documents-do-not-specify": "The provided documents do not specify the cost [2].",
    "model-en-no-information-in-passages": "There is no information about X in the passages.",
    "model-en-could-not-find": "I could not find the VPN address in the provided passages.",
    "model-en-context-does-not-contain": "The context does not contain the number of parking bays.",
    "model-en-not-specified-in-documentation": "It is not specified in the documentation.",
    "model-en-then-a-guess": (
        "Unfortunately, the passages don't say how long refunds take. However, you could try "
        "asking the finance team, who usually answer within a week."
    ),
    "model-en-i-dont-know": "I don't know.",
    "model-en-based-on-passages-no-information": (
        "Based on the provided passages, there is no information about the Visio export [1, 2]."
    ),
    "model-en-preamble-line": (
        "Based on the passages provided:\n\nThe passages do not contain any details about the cost."
    ),
    "model-en-no-mention-then-guess": (
        "The documents make no mention of a Visio export, but you could export to SVG instead."
    ),
    "model-en-partial-coverage": (
        "The passages describe exporting to PDF and PNG but do not mention Visio [3]."
    ),
    "model-en-no-then-statement": "No. The provided passages do not say whether Visio works.",
    "model-en-not-specified": "The licence cost for the Enterprise plan is not specified [2].",
    "model-en-none-of-the-passages": "None of the passages mention a parking allowance.",
    "model-en-cannot-be-determined": "This cannot be determined from the provided context.",
    "model-en-sorry-unable": "I'm sorry, but I am unable to find that information.",
    "model-en-curly-apostrophe": "I don’t have enough information to answer this question.",
    "model-en-information-not-available": (
        "This information is not available in the provided documents."
    ),
    "model-en-no-mention-of": "There's no mention of a licence cost.",
    "model-en-not-possible-to-determine": (
        "It is not possible to determine the licence cost from the passages."
    ),
    "model-en-short-every-sentence": "Sorry. I could not find this. The passages do not cover it.",
    "edge-en-bold": "**The passages do not mention Visio.**",
    "edge-en-question-echoed": "Can I export to Visio? The passages do not say.",
    "edge-en-bare-not-mentioned": "Not mentioned in the passages.",
    "edge-en-only-discuss-not": "The passages only discuss PDF export, not Visio.",
    "edge-en-insufficient": "Insufficient information to answer.",
    "edge-en-empty": "",
    "edge-en-markers-only": "  [1] ",
    "edge-en-preamble-only": "Based on the provided passages:",
    # Chinese
    "model-zh-preamble-then-not-mentioned": "根据提供的资料，没有提到……",
    "model-zh-document-does-not-explain": "文档中未说明……",
    "model-zh-no-relevant-information": "资料中没有相关信息。",
    "model-zh-cannot-find-answer": "无法从所给段落中找到答案",
    "model-zh-i-dont-know": "我不知道。",
    "model-zh-topic-then-statement": "关于导出到Visio，所提供的段落中没有提到。",
    "model-zh-no-information-about": "没有关于许可证费用的信息[2]。",
    "model-zh-passive-then-guess": "Visio导出在文档中未提及，不过您可以尝试导出为SVG。",
    "model-zh-sorry": "抱歉！提供的资料中没有找到相关内容。",
    "edge-zh-question-echoed-unspaced": "可以导出到Visio吗？文档中没有提到。",
    "edge-zh-current-is-no-condition": "当前文档中没有提到导出到Visio。",
    # Russian
    "model-ru-passages-do-not-mention": "В предоставленных отрывках не упоминается экспорт.",
    "model-ru-documents-do-not-specify": "В документах не указано, сколько стоит лицензия [2].",
    "model-ru-no-information": "Информации о стоимости лицензии нет.",
    "model-ru-i-dont-know": "Я не знаю.",
    "model-ru-unfortunately": "К сожалению, в предоставленных документах нет информации об этом.",
    "model-ru-according-to-not-specified": (
        "Согласно предоставленным отрывкам, стоимость лицензии не указана."
    ),
    "model-ru-fragments-do-not-contain": (
        "Предоставленные фрагменты не содержат сведений об экспорте в Visio."
    ),
    "model-ru-no-data": "Нет данных о парковке для сотрудников [1].",
    "model-ru-cannot-answer": "Не могу ответить на этот вопрос на основе предоставленных данных.",
    "model-ru-nothing-said": "Об этом в документах ничего не сказано.",
    "edge-ru-yo": "В приведённых отрывках не упоминается Visio.",
}

ANSWERS = {
    # English
    "model-en-cron": "cron does not run missed jobs; use anacron [1].",
    "model-en-postgresql-hints": "PostgreSQL does not support query hints natively [2].",
    "model-en-passwd": "The passwd command does not require root for your own password.",
    "model-en-no-then-answer": "No, ext4 does not need defragmentation [3].",
    # The first clause answers: a later clause or sentence saying what is not mentioned does not
    # turn the answer into a refusal.
    "model-en-answer-then-clause-not-mentioned": (
        "The documentation recommends daily backups [1]; it does not mention a limit, but weekly "
        "full backups are kept [2]."
    ),
    "model-en-answer-then-sentence-not-mentioned": (
        "Backups are kept for 35 days [2]. The passages do not mention off-site copies."
    ),
    "model-en-no-limit": "There is no limit on the number of collections [2].",
    "model-en-not-possible-subject-matter": "It is not possible to shrink an XFS filesystem [1].",
    "model-en-not-shown-by-default": "Hidden files are not shown by default; use ls -a [1].",
    "model-en-unfortunately-then-answer": "Unfortunately, the VPN does not support IPv6 [4].",
    "model-en-regarding-then-answer": "Regarding refunds, they are paid within 14 days [2].",
    "model-en-documents-not-deleted": "Documents are not deleted when a collection is archived.",
    "model-en-does-not-say-to": "The manual does not say to restart; the service reloads [2].",
    "edge-en-context-menu": "The context menu does not contain an Export option [1].",
    "edge-en-search-results": "Drafts are not included in search results until published [3].",
    "edge-en-no-need": "There is no need to restart the service after editing the file.",
    "edge-en-conditional": "If the port is not specified, PostgreSQL uses 5432 [1].",
    "edge-en-bare-no": "No.",
    "edge-en-not-required": "A source field is not required for uploads [1].",
    "edge-en-it-does-not-cover": "It does not cover hail damage [2].",
    "edge-en-no-data-loss": "There is no data loss when the worker restarts [3].",
    "edge-en-cannot-be-determined-with-a-tool": "The size cannot be determined with ls; use du.",
    "edge-en-no-information-to-third-parties": "No information is given to third parties [1].",
    "edge-en-information-not-shared": "Information about salaries is not shared with managers.",
    "edge-en-documents-do-not-include": "Documents do not include comments when exported [1].",
    # Chinese
    "model-zh-conditional": "如果没有指定端口，默认使用5432。",
    "model-zh-ext4": "ext4不需要碎片整理[3]。",
    "model-zh-no-limit": "没有限制，可以创建任意数量的集合[2]。",
    "model-zh-answer-then-not-mentioned": "文档建议每天备份[1]，但没有提到上限。",
    "model-zh-no-graphical-interface": "该命令不提供图形界面，请使用终端[2]。",
    "edge-zh-config-file-condition": "配置文件中没有指定端口时，默认使用5432[1]。",
    "edge-zh-not-found-condition": "没有找到命令时，请检查PATH[1]。",
    "edge-zh-cannot-read-config": "无法读取配置信息，请检查文件权限[1]。",
    "edge-zh-file-does-not-contain": "文件中不包含个人数据[1]。",
    # Russian
    "model-ru-conditional": "Если пакет не указан, apt удаляет все неиспользуемые пакеты [1].",
    "model-ru-no-then-answer": "Нет, ext4 не нуждается в дефрагментации [3].",
    "model-ru-not-stored": "Пароль не хранится в открытом виде [1].",
    "model-ru-postgresql-hints": "PostgreSQL не поддерживает подсказки оптимизатору [2].",
    "model-ru-documentation-describes": "В документации описано, как восстановить копию [2].",
    "edge-ru-error-message": "Ошибка «не удалось найти пакет» означает, что список устарел [1].",
    "edge-ru-not-set-in-config": "Порт не указан в конфигурации, поэтому используется 5432 [1].",
    "edge-ru-data-not-lost": "Данные не теряются при перезапуске воркера [3].",
    "edge-ru-document-no-signature": "Документ не содержит подписи [1].",
    "edge-ru-impossible-subject-matter": "Невозможно уменьшить файловую систему XFS [1].",
}


@pytest.mark.parametrize("text", NON_ANSWERS.values(), ids=NON_ANSWERS.keys())
def test_a_non_answer_counts_as_a_refusal(text: str) -> None:
    assert is_non_answer(text)


@pytest.mark.parametrize("text", ANSWERS.values(), ids=ANSWERS.keys())
def test_an_answer_that_negates_the_subject_matter_is_an_answer(text: str) -> None:
    assert not is_non_answer(text)


def test_the_tables_cover_each_language_both_ways() -> None:
    for table in (NON_ANSWERS, ANSWERS):
        for language in ("en", "zh", "ru"):
            assert sum(f"-{language}-" in case for case in table) >= 6


# fmt: skip below: a table, one case per line, that the formatter would spread out.
@pytest.mark.parametrize(
    ("text", "complete"),
    [
        ("", False),
        ("The passages do not", False),
        ("I don't know.", True),
        ("I don't know. Howev", True),
        ("I don't know\n", True),
        ("Backups are kept for 35 days [2].", True),
        ("Backups are kept for 35 days [2", False),
        ("The limit is 1.", False),
        ("The limit is 1. ", True),
        ("The limit is 1.5 GB!", True),
        ("文档中没有提到。默认", True),
        ("文档中没有提到", False),
        ("文档中没有提到！", True),
        ("抱歉！文档中没有提到", False),
        ("可以导出到Visio吗？文档中没有提到。", True),
        ("Стоимость не указана. ", True),
        ("Based on the provided passages:\n", False),
        ("Based on the provided passages:\nThe passages do not mention Visio.", True),
        ("No. ", False),
        ("x" * (FIRST_SENTENCE_HOLD - 1), False),
        ("x" * FIRST_SENTENCE_HOLD, True),
    ],
    ids=["empty", "unfinished", "full-stop-at-end", "full-stop-then-more", "newline",
         "after-citation", "inside-citation", "digit-then-dot-may-be-decimal",
         "digit-then-dot-and-space", "exclamation", "chinese-full-stop-unspaced",
         "chinese-unfinished", "chinese-exclamation-at-end", "chinese-opening-only",
         "chinese-question-echoed", "russian", "preamble-only", "preamble-then-sentence",
         "bare-no-waits-for-more", "below-hold", "at-hold"],
)  # fmt: skip
def test_first_sentence_complete(text: str, complete: bool) -> None:
    assert first_sentence_complete(text) is complete


@pytest.mark.parametrize(
    "text", [*NON_ANSWERS.values(), *ANSWERS.values()], ids=[*NON_ANSWERS, *ANSWERS]
)
def test_the_held_first_sentence_decides_as_the_whole_answer_does(text: str) -> None:
    held = _held(text)

    assert is_non_answer(held) is is_non_answer(text)


def test_a_long_first_sentence_is_judged_on_what_was_held() -> None:
    text = (
        "Based on the provided passages, there is no information about exporting diagrams from "
        "the architecture workspace to Microsoft Visio, to Lucidchart or to any other diagram "
        "format used by the design team [1]."
    )

    held = _held(text)

    assert len(held) == FIRST_SENTENCE_HOLD
    assert is_non_answer(held)


def _held(text: str) -> str:
    """What a stream shows nothing of: characters arrive until the first sentence is complete
    (all of a text whose first sentence never completes)."""
    for end in range(1, len(text) + 1):
        if first_sentence_complete(text[:end]):
            return text[:end]
    return text
