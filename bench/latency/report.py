"""What a latency run writes besides its measurements: the settings it ran with, and the
compact table on stderr."""

from __future__ import annotations

from typing import Any

from bench.common.metrics import PERCENTILES
from bench.latency.layout import SCOPES
from bench.latency.llm import ANSWER_MAX_TOKENS

Json = dict[str, Any]
_COLUMNS = ("dense", "sparse", "fused", "graph hops=0", "graph hops=1", "graph hops=2")


def settings_used() -> Json:
    from django.conf import settings

    return {
        "path_limit": settings.KB_RETRIEVAL_PATH_LIMIT,
        "fusion_weights": settings.KB_FUSION_WEIGHTS,
        "top_k": settings.KB_TOP_K,
        "graph_hops": settings.KB_GRAPH_HOPS,
        "embed_model": settings.KB_EMBED_MODEL,
        "llm_n_ctx": settings.KB_LLM_N_CTX,
        "llm_n_gpu_layers": settings.KB_LLM_N_GPU_LAYERS,
        "prompt_template": settings.KB_PROMPT_TEMPLATE,
        "refusal": {
            "min_dense": settings.KB_REFUSAL_MIN_DENSE,
            "min_coverage": settings.KB_REFUSAL_MIN_COVERAGE,
            "other_script_min_dense": settings.KB_REFUSAL_OTHER_MIN_DENSE,
            "other_script_min_coverage": settings.KB_REFUSAL_OTHER_MIN_COVERAGE,
        },
        "answer_max_tokens": ANSWER_MAX_TOKENS,
        "post_check": "pass-through (not what is measured here)",
    }


def summary(report: Json) -> str:
    lines = [f"ms p50/p95/p99 over {report['queries']['count']} queries per scope"]
    for entry in report["sizes"]:
        lines += _size_lines(report, entry)
    for model in report.get("llm", []):
        lines.append(
            f"LLM {model['model']}: load {model['load_s']} s, {model['prompt_tokens_mean']} prompt "
            f"tokens, TTFT {_triple(model['ttft_ms'])} ms, prompt "
            f"{model['prompt_tokens_per_s'].get('p50')} tok/s, generation "
            f"{model['generation_tokens_per_s'].get('p50')} tok/s"
        )
    for entry in report["sizes"]:
        if "answers" in entry:
            answers = entry["answers"]
            lines.append(
                f"answers at {entry['chunks']} chunks ({answers['model_called']} reached the "
                f"model): sources {_triple(answers['sources_ms'])} ms, TTFT "
                f"{_triple(answers['ttft_ms'])} ms, total "
                f"{_triple(answers['total_ms'])} ms"
            )
        if "translated_search" in entry:
            searched = entry["translated_search"]
            lines.append(
                f"searches at {entry['chunks']} chunks with translation on "
                f"({searched['translated']} of {searched['queries']} translated, "
                f"{searched['translation_missing']} not translated though asked, "
                f"{searched['incomplete']} incompletely): "
                f"{_triple(searched['with_translation_ms'])} ms (off: "
                f"{_triple(searched['translation_off_ms'])} ms); translated ones "
                f"{_triple(searched['translated_queries_ms'])} ms"
            )
    lines.append(f"peak RSS {report['peak_rss_mb']} MB, wall {report['wall_s']} s")
    return "\n".join(lines)


def _size_lines(report: Json, entry: Json) -> list[str]:
    size = str(entry["chunks"])
    graph, search, retrieval = entry["graph"], entry["graph_search"], entry["retrieval"]
    lines = [
        f"{size} chunks; graph {graph['chunks_written']} chunks, {graph['write_ms_per_chunk']} "
        f"ms/chunk to write; fused = {'+'.join(retrieval['paths_run'])}",
        f"  {'scope':<7}{'share':>7}" + "".join(f"{label:>18}" for label in _COLUMNS),
    ]
    for name in SCOPES:
        share = report["acl_layout"]["scopes"][name]["share_of_chunks"][size] * 100
        figures = [retrieval[name]["ms"].get(key, {}) for key in ("dense", "sparse", "retrieve")]
        figures += [search[f"hops_{hops}"][name]["ms"] for hops in (0, 1, 2)]
        lines.append(f"  {name:<7}{share:>6.1f}%" + "".join(f"{_triple(f):>18}" for f in figures))
    failed = {f"hops={h}": search[f"hops_{h}"]["failures"] for h in (0, 1, 2)}
    lines.append(
        f"  graph hops=1,2 on {search['hops_1']['questions']} questions, interrupted after "
        f"{search['timeout_s']} s; failures {failed}"
    )
    for label in ("vector_index", "vector_index_optimized"):
        if label in entry:
            index = entry[label]
            cells = ", ".join(
                f"{name} {index[name]['dense'].get('p50')}/{index[name]['sparse'].get('p50')}"
                for name in ("no_filter", *SCOPES)
            )
            lines.append(f"  {label} p50 dense/sparse: {cells}")
    return lines


def _triple(figures: Json) -> str:
    return "/".join(_short(figures.get(f"p{p}")) for p in PERCENTILES)


def _short(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"
