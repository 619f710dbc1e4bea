"""Ingestion pipeline: parse -> clean -> chunk -> embed -> extract -> index (DESIGN.md).

Never imports retrieval; writes to the stores only through kb.stores.
"""
