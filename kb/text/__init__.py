"""Text processing shared by ingestion and retrieval (they never import each other):
the sparse encoder, the embedding model and the entity extractor must be the same on both
sides, or queries would not match what was indexed."""
