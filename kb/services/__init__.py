"""Writes, one module per subject; keyword-only arguments, no HTTP. Import from the subject
module (nothing is re-exported here):

- `api_tokens`: API tokens created, revoked (also when they leak into logged text), touched.
- `users`: users and groups for the server console.
- `collections`: collections created, their access changed (re-stamping their chunks), deleted.
- `documents`: uploads, versions, retries and deletion of documents; ingestion tasks are sent
  by name once the transaction commits.
- `conversations`: the chat's exchanges, deletion and retention.
- `querylog`: the anonymised query log, feedback on it, its pseudonyms and retention.

Reads are in kb.selectors; kb.answering orchestrates one question on top of both.
"""
