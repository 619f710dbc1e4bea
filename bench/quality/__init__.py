"""Retrieval quality on a hand-written dev set, per path and fused, against plain BM25; and the
calibration of the refusal thresholds (`python -m bench quality`, entry point in `runner`).

- Questions: bench/devset/retrieval.jsonl (each with its gold file and section) and
  bench/devset/unanswerable.jsonl (answers in neither corpus), in English, Chinese, Russian.
  With `--pdf`: bench/devset/pdf.jsonl (gold file and acceptable physical pages) over the
  whole PDF manuals of `bench.common.corpus.PDF_SOURCES`; relevance adds a page level (a hit
  when one of the first 5 chunks is on a gold page) and drops sections and editions.
  With `--crosslingual`: bench/devset/crosslingual.jsonl, questions in another language than
  their gold page (zh and ru about the English PostgreSQL manual, English about zh-CN and ru-RU
  handbook pages), each with its `direction`.
- Corpus (`corpus`, `stores`): every gold file plus, per source, the first `--distractors`
  pages by sha256 of their name (the selection of `bench ingest`); `--full` takes every page.
  With `--crosslingual` the distractors come from every source but the English handbook, and
  a gold handbook page is there in its gold edition only (its other editions are left out):
  an English question about a zh-CN page can then find its answer in Chinese only.
  Ingested by our pipeline (`document_add` + `ingest_document`) into a temporary KB_DATA_DIR,
  in one collection that a non-staff reader reads through a group; every search runs in
  `access_scope(reader)`.
- Paths (`search`): the production `Retriever` of `retrieval.factory.default_retriever`, built
  with `--limit` candidates per path and `--graph-hops` (passed as KB_RETRIEVAL_PATH_LIMIT and
  KB_GRAPH_HOPS), fused with settings.KB_FUSION_WEIGHTS; evidence for the refusal is the
  Retriever's own (`retrieval.evidence`: best dense cosine among readable dense hits, best
  share of the question's sparse terms in one of the top KB_TOP_K passages).
- bm25s: the same chunk texts, bm25s defaults (Lucene BM25, k1 1.5, b 0.75, token pattern
  `\\w\\w+`, English stopwords) stemmed by Snowball English (snowballstemmer's, the algorithm
  PyStemmer wraps). No segmentation: a run of Chinese characters is one token.
- Relevance (`metrics`) is binary. Document level: a chunk counts when its file is a gold file,
  and a path's ranking becomes documents in order of their first chunk. Section level: the unit
  is (file, section) and a chunk counts when the deepest heading of its section path is the
  gold one. recall@k (5; documents also 10) is the share of gold units in the first k units;
  nDCG@k uses binary gains. Means per path come overall and per question group, language,
  direction (question language -> gold pages' language, `Question.direction`) and crossing
  (same-language or cross-lingual); the text summary tables the directions when a question
  is cross-lingual (`--crosslingual`, and the zh/ru questions of `--pdf`).
  A third view counts any language edition of a gold handbook page (translations leave
  passages in English, so an English answer can sit in the zh-CN page).

Fusion alternatives (`fusion`: weights, per-path limits, and "script-aware": no dense vote for
a question not in Latin script, since the embedding model is English-only) are ranked by the
same Retriever over the run's searches, and the refusal thresholds (`refusal`) are fitted for
the production `RefusalPolicy`, with leave-one-question-out estimates to show how much of the
gain is fitted to these questions. `--candidate` names one set-up to report in full (metrics as
the `fused*` path, refusal calibration) beside the one in settings.
"""
