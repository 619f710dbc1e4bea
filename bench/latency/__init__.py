"""Query latency at scale: retrieval per path and fused with ACL filters at 10k and 100k chunks,
the language model's time to first token and tokens/s, and whole answers end to end
(`python -m bench latency`, entry point in `runner`).

- Corpus (`corpus`): Debian's `debian-handbook` (en-US, zh-CN, ru-RU) and `postgresql-doc-15`
  HTML pages, block elements read with lxml and cut by our own chunker
  (`ingestion.chunk.chunk_elements`, 300 tokens): about 11.8k real chunks in 1.5k documents.
  Beyond that, documents are recombined: each chunk of a real document (taken in turn) keeps
  its first half of sentences and takes the second half from a random chunk of the same
  source. The chunk sequence is fixed by the seed, so the 10k store holds the first 10k chunks
  of the 100k one.
- Access (`layout`): 20 collections of Zipf-like sizes, 50 groups, each collection read by 1-3
  groups and 10% of documents narrowed to one of them, as database rows; every chunk carries
  `kb.access.document_acl` of its document, and the scopes are `kb.access.access_scope` of
  three users: staff (matches every chunk, the baseline that ratios divide by), broad (a user
  in two groups, 5-20% of chunks), narrow (a user whose only group reads one small collection,
  about 0.5%).
- Dense vectors (`vectors`): the first `--real-vectors` chunks are embedded with the configured
  model; every other chunk gets a synthetic unit vector: a random mix of two real ones plus
  Gaussian noise (embedding 100k chunks takes ~40 min here). So dense scores of synthetic
  chunks do not describe their text; latency, not relevance, is measured.
- Stores (`stores`): the production adapters (`QdrantEdgeIndex`, `EmbeddedGraphStore`) in a
  temporary folder, written per document with the points and graph chunks
  `ingestion.pipeline` builds (sparse vectors, payloads, rule-based entities). The graph is
  written until `--graph-budget` seconds per size are spent; its size is recorded.
- Retrieval (`searches`): `Retriever.retrieve` as `retrieval.factory.default_retriever` builds
  it from settings (per-path limit, fusion weights: a path weighted 0 is not run; KB_TOP_K);
  per-path latencies are the Retriever's own timings. The database post-check is a
  pass-through (it is not what is measured here). The graph path is timed on its own with
  `GraphSearcher` at 0 hops on every question and at 1 and 2 hops on `--graph-queries`
  questions, each query interrupted after `--graph-timeout` seconds. Also the vector index
  alone (query vectors ready), with and without a filter, before and after
  `EdgeShard.optimize()` (what `manage.py kb_optimize` runs in a maintenance window).
- LLM (`llm`): each `--models` entry in process, opened as `kb.llm.factory` opens the
  configured model, prompts from `retrieval.prompting.answer_messages` with the passages
  retrieved for a dev-set question, each prompt different (llama.cpp reuses a cached prefix);
  one untimed warm-up. Answers: the production `Answerer` over the largest store for
  `--answers` further questions, max_tokens 200, staff scope.
"""
