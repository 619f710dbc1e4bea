"""Reads, one module per subject; keyword-only arguments, and every read of user-visible data
through kb.access. Import from the subject module (nothing is re-exported here):

- `api_tokens`: the live token behind a bearer header, leak notices owed to owners.
- `users`: the groups a user may see and grant.
- `collections`: collections a user reads or manages, with document counts.
- `documents`: documents a user reads or manages, and those still being indexed.
- `conversations`: a user's own conversations, their history and exchanges.
- `sources`: a cited passage in its surrounding text, for the source view.
- `analytics`: the analytics page's numbers, from the anonymised query log only.

Writes are in kb.services.
"""
