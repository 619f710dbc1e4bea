"""Local language models: GGUF files assembled from PyPI packages, and chat backends.

Lives in kb/ because ingestion (LLM entity extraction) and retrieval (answers) both use it and
must not import each other.
"""
