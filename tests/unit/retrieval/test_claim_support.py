"""Each rule of the claim check on the kind of mistake it is there for: an on-topic sentence
that shares most of its words with the passage it cites, and a paraphrase that must pass."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from kb.text.sparse import tokenize
from retrieval.answer_checks import check_answer
from retrieval.attribution import recite
from retrieval.claim_support import (
    CROSS_LANGUAGE,
    NAMES,
    NUMBERS,
    QUALIFIERS,
    TERMS,
    ClaimEmbedder,
    Evidence,
    is_placeholder,
    numbers_in,
    unsupported_reason,
)
from retrieval.types import Passage

pytestmark = pytest.mark.unit

QUOTAS = (
    "The grace period is the time during which a soft limit may be exceeded. Once it has "
    "expired, the soft limit is treated like a hard limit. It is set with edquota -t. "
    "To give new users a default quota, set the QUOTAUSER variable in /etc/adduser.conf. "
    "Quotas are enabled with the usrquota option in /etc/fstab and take effect after a reboot."
)


def _reason(claim: str, passage: str = QUOTAS, embedder: ClaimEmbedder | None = None) -> str:
    return unsupported_reason(
        claim, set(tokenize(claim)), [Evidence.of(passage)], embedder=embedder
    )


@pytest.mark.parametrize(
    ("claim", "reason"),
    [
        pytest.param(
            "The soft limit may be exceeded during the grace period.", "", id="paraphrase"
        ),
        pytest.param("The grace period is set with edquota -t.", "", id="option-stated"),
        pytest.param(
            "The grace period, i.e. the time a soft limit may be exceeded, is set with edquota -t.",
            "",
            id="abbreviation-is-no-name",
        ),
        pytest.param(
            "The grace period before a soft limit is enforced is seven days.",
            NUMBERS,
            id="spelled-number",
        ),
        pytest.param(
            "The grace period is set with edquota and lasts 7 days.", NUMBERS, id="digit-number"
        ),
        pytest.param(
            "Set the QUOTAUSER variable in /etc/login.defs for a default quota.",
            NAMES,
            id="neighbouring-file",
        ),
        pytest.param("The grace period is set with edquota -g.", NAMES, id="neighbouring-option"),
        pytest.param(
            "Set the grace period with edquota -t user_name.", "", id="placeholder-in-a-command"
        ),
        pytest.param(
            "Set the QUOTAUSER variable in /etc/user_name.conf for a default quota.",
            NAMES,
            id="placeholder-words-in-a-real-path",
        ),
        pytest.param(
            "Set the grace period with edquota -t and the USER_NAME variable.",
            NAMES,
            id="a-variable-in-capitals-is-no-placeholder",
        ),
        pytest.param(
            "Set the grace period with edquota -t for each table_name.",
            "",
            id="known-limit-a-real-name-of-placeholder-words-passes",
        ),
        pytest.param(
            "Only root may exceed the soft limit during the grace period.",
            QUALIFIERS,
            id="added-only",
        ),
        pytest.param(
            "Any soft limit may be exceeded during the grace period.", QUALIFIERS, id="added-any"
        ),
        pytest.param(
            "Backups are compressed and copied to tape every night.", TERMS, id="other-topic"
        ),
    ],
)
def test_each_rule_catches_its_mistake_and_passes_a_paraphrase(claim: str, reason: str) -> None:
    assert _reason(claim) == reason


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("kept 35 days, from 9.2 on, at 01:00", {"35", "9.2", "01:00"}),
        ("seven days or 07 days", {"7"}),
        ("срок семь дней", {"7"}),
        ("宽限期是七天，一个用户", {"7"}),
        # Compound numbers are read whole: the "five" of "thirty-five" is no 5 of its own.
        ("kept for thirty-five days, or twenty", {"35", "20"}),
        ("хранятся тридцать пять дней, пятнадцати минут", {"35", "15"}),
        ("保存三十五天，十一个月", {"35", "11"}),
    ],
)
def test_numbers_are_compared_as_values_in_any_language(text: str, numbers: set[str]) -> None:
    assert numbers_in(text) == numbers


def test_an_answer_stating_another_number_than_a_spelled_out_compound_is_caught() -> None:
    passage = "Backup copies are kept for thirty-five days and then deleted."

    assert numbers_in("备份保存35天。") <= numbers_in(passage)
    assert not numbers_in("Backups are kept for five days.") <= numbers_in(passage)


class _Encoder:
    """Vectors from a table, counting the texts it is asked to embed."""

    def __init__(self, vectors: dict[str, list[float]], default: list[float]) -> None:
        self.vectors, self.default, self.texts = vectors, default, 0

    def encode_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.texts += len(texts)
        return [self.vectors.get(t, self.default) for t in texts]


RU_CLAIM = "Мягкий лимит можно превышать в течение льготного периода."


def test_another_script_counts_as_supported_without_a_multilingual_embedder() -> None:
    english_only = ClaimEmbedder(_Encoder({}, [1.0, 0.0]), cross_language=False)

    assert _reason(RU_CLAIM) == ""
    assert _reason(RU_CLAIM, embedder=english_only) == ""


def test_a_multilingual_embedder_judges_another_script_by_similarity() -> None:
    far = ClaimEmbedder(_Encoder({RU_CLAIM: [0.0, 1.0]}, [1.0, 0.0]), cross_language=True)
    near = ClaimEmbedder(_Encoder({RU_CLAIM: [0.99, 0.14]}, [1.0, 0.0]), cross_language=True)

    assert _reason(RU_CLAIM, embedder=far) == CROSS_LANGUAGE
    assert _reason(RU_CLAIM, embedder=near) == ""


def test_a_passage_is_embedded_once_per_answer_and_same_script_sentences_not_at_all() -> None:
    """Given an answer of two Russian sentences and one English one citing the same English
    passage, when it is checked, then the passage's sentences are embedded once."""
    encoder = _Encoder({}, [1.0, 0.0])
    passage = Passage(1, "c1", 1, "Quotas", None, "", QUOTAS, 1.0, ())
    answer = (
        "Мягкий лимит можно превышать в течение льготного периода [1]. "
        "Жёсткий лимит превышать нельзя [1]. The soft limit may be exceeded [1]."
    )

    check_answer(
        answer,
        cited=[passage],
        passages=[passage],
        embedder=ClaimEmbedder(encoder, cross_language=True),
    )

    assert encoder.texts == len(Evidence.of(QUOTAS).sentences) + 2


MIXED = (
    "解决方案是使用 sudo 程序，允许用户对特定命令拥有专门的权力。"
    "When installed, the sudo package gives full root rights to members of the sudo Unix "
    "group. To delegate other rights, the administrator can use the visudo command, which "
    "allows them to modify the /etc/sudoers configuration file with the vi editor."
)
WRONG_ZH = "使用 sudo 程序，所有用户都能以 root 的权限运行任何命令。"


def test_a_sentence_is_compared_with_its_scripts_part_of_a_passage_in_two_languages() -> None:
    """A translated manual mixes untranslated English paragraphs with Chinese ones: a Chinese
    sentence taken from such a passage is compared with its Chinese part, even where the
    passage is mostly English."""
    chinese = "root 用户的密码要设得足够长，并尽可能复杂。"
    claim = "使用 sudo 程序，允许用户对特定命令拥有专门的权力。"
    evidence = [Evidence.of(MIXED), Evidence.of(chinese)]

    assert evidence[0].scripts == {True, False}
    assert unsupported_reason(claim, set(tokenize(claim)), evidence) == ""
    assert unsupported_reason(WRONG_ZH, set(tokenize(WRONG_ZH)), evidence) == TERMS
    # Citing the mixed passage alone, it is still compared with its Chinese part.
    assert unsupported_reason(WRONG_ZH, set(tokenize(WRONG_ZH)), evidence[:1]) == TERMS


def test_a_multilingual_embedder_judges_a_sentence_short_of_terms_beside_another_script() -> None:
    """Given a Chinese sentence the Chinese text of its passages does not hold, while one of
    them is mostly English, when it is checked with a multilingual embedder, then it is judged
    by its similarity to the English sentences (it may translate them), not by terms; without
    one it stays short of terms. The same for an English
    sentence about a Chinese handbook page that keeps an untranslated English paragraph."""
    evidence = [Evidence.of(MIXED), Evidence.of("root 用户的密码要设得足够长，并尽可能复杂。")]
    far = ClaimEmbedder(_Encoder({WRONG_ZH: [0.0, 1.0]}, [1.0, 0.0]), cross_language=True)
    near = ClaimEmbedder(_Encoder({WRONG_ZH: [0.99, 0.14]}, [1.0, 0.0]), cross_language=True)
    terms = set(tokenize(WRONG_ZH))

    assert unsupported_reason(WRONG_ZH, terms, evidence) == TERMS
    assert unsupported_reason(WRONG_ZH, terms, evidence, embedder=far) == CROSS_LANGUAGE
    assert unsupported_reason(WRONG_ZH, terms, evidence, embedder=near) == ""

    page = (
        "自动挂载 NFS 共享时，服务器会把客户端 root 用户写入的文件映射为匿名用户。"
        "这种行为称为 root_squash，是默认设置，可以针对受信任的主机关闭。"
        "The no_root_squash option disables this for the clients listed in /etc/exports."
    )
    english = "Files written by root on a client are mapped to an anonymous account on purpose."
    near_en = ClaimEmbedder(_Encoder({english: [0.99, 0.14]}, [1.0, 0.0]), cross_language=True)
    (chinese_page,) = [Evidence.of(page)]
    assert chinese_page.scripts == {True, False} and not chinese_page.latin
    assert unsupported_reason(english, set(tokenize(english)), [chinese_page]) == TERMS
    assert (
        unsupported_reason(english, set(tokenize(english)), [chinese_page], embedder=near_en) == ""
    )


def test_across_scripts_a_sentence_is_compared_with_the_other_scripts_sentences_only() -> None:
    """Given an invented English sentence about an English page, beside a Russian page in the
    prompt, when a multilingual embedder finds it close to an English sentence but far from
    every Russian one, then it is not supported: the similarity threshold is for pairs in two
    scripts, and an on-topic sentence in the same language clears it easily."""
    backups = "Backups are restored from the archive server by the operations team on request."
    canteen = "Столовая открыта с двенадцати до двух. Меню меняется каждую неделю."
    invented = "Any employee can restore backups from the archive server without approval."
    encoder = _Encoder({invented: [1.0, 0.0], backups: [1.0, 0.0]}, [0.0, 1.0])
    evidence = [Evidence.of(backups), Evidence.of(canteen)]
    terms = set(tokenize(invented))

    assert unsupported_reason(invented, terms, evidence) == TERMS
    embedder = ClaimEmbedder(encoder, cross_language=True)
    assert unsupported_reason(invented, terms, evidence, embedder=embedder) == CROSS_LANGUAGE


def test_citation_markers_standing_alone_are_not_a_supported_claim() -> None:
    """A model that ends a wrong sentence and then writes its marker as a sentence of its own
    ("… 12 minutes. [1]") must not have the bare marker count as a supported sentence: that
    would serve an answer none of whose statements its sources hold."""
    passage = Passage(1, "c1", 1, "Quotas", None, "", QUOTAS, 1.0, ())

    check = check_answer(
        "Quotas are enabled by installing the quotatool daemon on every host. [1]",
        cited=[passage],
        passages=[passage],
    )

    assert [c.text for c in check.claims] == [
        "Quotas are enabled by installing the quotatool daemon on every host."
    ]
    assert check.nothing_supported


def test_markers_opening_a_sentence_belong_to_the_one_before() -> None:
    """ "… edquota -t. [2] Quotas …": the splitter puts [2] with the next sentence, but the
    model cited passage 2 for the sentence it closes, so that one is checked against passage 2
    (which does not hold it) and the next against what it cites itself."""
    quotas = Passage(1, "c1", 1, "Quotas", None, "", QUOTAS, 1.0, ())
    backups = Passage(
        2, "c2", 2, "Backups", None, "", "Nightly backups are kept for 35 days.", 1.0, ()
    )
    answer = (
        "The grace period is set with edquota -t. [2] "
        "Quotas are enabled with the usrquota option in /etc/fstab [1]."
    )

    check = check_answer(answer, cited=[quotas, backups], passages=[quotas, backups])

    assert [(c.text, c.supported, c.passages) for c in check.claims] == [
        ("The grace period is set with edquota -t.", False, (2,)),
        ("Quotas are enabled with the usrquota option in /etc/fstab [1].", True, (1,)),
    ]


def test_a_sentence_made_of_the_questions_own_words_restates_it() -> None:
    """Its words are the passage's too (the question was asked about it), yet it answers
    nothing: not supported, and no other passage is cited for it. A sentence that adds the
    answer's own words is checked as usual; without the question nothing is a restatement."""
    quotas = Passage(1, "c1", 1, "Quotas", None, "", QUOTAS, 1.0, ())
    question = "For how long may a soft limit be exceeded?"
    echo = "A soft limit may be exceeded for [1]."
    answer = "A soft limit may be exceeded during the grace period [1]."
    again = Passage(2, "c2", 2, "Quotas again", None, "", QUOTAS, 1.0, ())

    restating = check_answer(echo, cited=[quotas], passages=[quotas], question=question)
    answering = check_answer(answer, cited=[quotas], passages=[quotas], question=question)
    unasked = check_answer(echo, cited=[quotas], passages=[quotas])

    assert [(c.supported, c.restates) for c in restating.claims] == [(False, True)]
    assert restating.nothing_supported
    assert [(c.supported, c.restates) for c in answering.claims] == [(True, False)]
    assert [c.supported for c in unasked.claims] == [True]
    assert recite(echo, restating, [quotas, again]).check == restating


@pytest.mark.parametrize(
    ("question", "sentence"),
    [
        (
            "Can a soft limit be exceeded for a while?",
            "Yes, a soft limit can be exceeded for a while [1].",
        ),
        (
            "Is the grace period set with edquota -t or with quotacheck?",
            "The grace period is set with edquota -t [1].",
        ),
        (
            "Which option enables quotas at once?",
            "No option enables quotas at once [1].",
        ),
    ],
)
def test_a_yes_no_or_either_or_question_or_a_negation_may_be_answered_in_its_own_words(
    question: str, sentence: str
) -> None:
    quotas = Passage(1, "c1", 1, "Quotas", None, "", QUOTAS, 1.0, ())

    check = check_answer(sentence, cited=[quotas], passages=[quotas], question=question)

    assert [c.restates for c in check.claims] == [False]


@pytest.mark.parametrize(
    ("name", "placeholder"),
    [
        ("schema_name", True),
        ("schema_name.dump", True),
        ("your_table", True),
        ("/path/to/backup.sql", True),
        ("db_name", True),
        ("table_name", True),
        ("pg_dump", False),  # a real program: "dump" is generic, "pg" is not
        ("/etc/cron.deny", False),
        ("log_directory", False),  # a setting, though "directory" is generic
        ("file.txt", False),  # generic words, but none stands for a name to fill in
        ("-n", False),
    ],
)
def test_a_placeholder_is_generic_words_one_of_them_a_slot(name: str, placeholder: bool) -> None:
    assert is_placeholder(name) is placeholder
