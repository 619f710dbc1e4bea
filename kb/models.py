"""Data model (DESIGN.md, Data model). Business rules live in services/selectors/access."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models

from kb.conversation_crypto import EncryptedTextField

SLUG_CHARS = 220  # a slugified 200-character name plus "-<n>" when it is taken


class Collection(models.Model):
    name = models.CharField(max_length=200, unique=True)
    # Names a collection where an id is awkward: the OpenAI-compatible API's model
    # `quarry/<slug>`. Set once at creation (kb.services.collections): renaming keeps it.
    slug = models.SlugField(max_length=SLUG_CHARS, unique=True)
    description = models.TextField(blank=True)
    reader_groups = models.ManyToManyField(Group, blank=True, related_name="readable_collections")
    editor_groups = models.ManyToManyField(Group, blank=True, related_name="editable_collections")
    open_to_all_authenticated = models.BooleanField(
        default=False,
        help_text="Every active signed-in user may read it, whatever their groups.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    content_version = models.PositiveIntegerField(
        default=0,
        help_text="Bumped whenever what this collection's readers can find changes (documents "
        "indexed or deleted, access changed); part of every cached answer's key.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def collection_content_changed(*, collection_id: int) -> None:
    """What the collection's readers can find changed: cached answers over it are stale. Beside
    the field because both sides bump it: the services (deletions, access changes) and ingestion
    (a version indexed), which imports no services."""
    Collection.objects.filter(pk=collection_id).update(
        content_version=models.F("content_version") + 1
    )


class DocumentStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PROCESSING = "processing", "Processing"
    INDEXED = "indexed", "Indexed"
    FAILED = "failed", "Failed"


def _document_upload_to(document: Document, filename: str) -> str:
    return f"documents/{document.collection_id}/{filename}"


class Document(models.Model):
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="documents")
    title = models.CharField(max_length=500)
    source_filename = models.CharField(max_length=500)
    file = models.FileField(upload_to=_document_upload_to, max_length=700, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    mime_type = models.CharField(max_length=200, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    status = models.CharField(
        max_length=20, choices=DocumentStatus.choices, default=DocumentStatus.QUEUED, db_index=True
    )
    stage = models.CharField(max_length=50, blank=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="0 to 100")
    error = models.TextField(blank=True)
    page_count = models.PositiveIntegerField(default=0)
    chunk_count = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(default=0, help_text="Version of the uploaded content.")
    indexed_version = models.PositiveIntegerField(
        default=0,
        help_text="Version currently searchable (0: none). Replaced only when the next "
        "version is fully written.",
    )
    embed_model = models.CharField(
        max_length=500,
        blank=True,
        default="",
        help_text="The KB_EMBED_MODEL that made the searchable version's vectors (empty: none "
        "indexed). Another model's question vectors do not match them: kb_reindex re-embeds.",
    )
    script = models.CharField(
        max_length=20,
        blank=True,
        default="",
        help_text="The script most of the searchable version's text is written in (latin, han, "
        "cyrillic, other; empty: not recorded). Questions are also searched translated into "
        "the scripts of the documents their asker may read.",
    )
    superseded_files = models.JSONField(
        default=list,
        blank=True,
        help_text="Files of replaced versions, as [version, stored name]: deleted once a later "
        "version is indexed (until then the indexed version stays searchable).",
    )
    flagged_chunks = models.PositiveIntegerField(
        default=0,
        help_text="Chunks whose text addresses the assistant or the reader with instructions "
        "(possible prompt injection), counted at indexing. For admins to review; it changes "
        "nothing else.",
    )
    reader_groups = models.ManyToManyField(
        Group,
        blank=True,
        related_name="readable_documents",
        help_text="Optional: narrows the collection's readers to these groups.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["collection", "sha256"])]

    def __str__(self) -> str:
        return self.title


class PendingPurge(models.Model):
    """What a deleted document left in the stores and on disk, until it is gone from there too.

    Written in the transaction that deletes the document, so the rows can never go while their
    chunks and files stay unaccounted for; deleted once both stores and the storage have let go
    of them (`ingestion.purge`). A row that stays means a store was down: the sweep retries it.
    The document id is not a foreign key: the document is gone when this is read."""

    document_id = models.BigIntegerField(db_index=True)
    collection_id = models.BigIntegerField()
    files = models.JSONField(default=list, help_text="Stored names of every version's file.")
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"purge of document {self.document_id}"


class TokenRevokedReason(models.TextChoices):
    OWNER = "owner", "revoked by its owner or an administrator"
    LEAKED = "leaked", "appeared in a logged question, answer or comment"


class ApiToken(models.Model):
    """Only the SHA-256 of the token is stored; the token itself is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise a token.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(
        max_length=20, blank=True, choices=TokenRevokedReason.choices, default=""
    )
    revoked_notice_pending = models.BooleanField(
        default=False, help_text="The owner has not yet been told on a web page why it went."
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or 'token'})"


class QueryLog(models.Model):
    """Anonymous by construction: no user id, username, email or IP is ever stored here."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    pseudonym = models.CharField(max_length=64, db_index=True)
    question_redacted = models.TextField()
    answer_redacted = models.TextField(blank=True)
    collection_ids = models.JSONField(default=list)
    retrieved = models.JSONField(default=dict, help_text="Chunk ids and scores per path.")
    latencies_ms = models.JSONField(default=dict, help_text="Milliseconds per stage.")
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    model = models.CharField(max_length=200, blank=True)
    template_version = models.CharField(max_length=50, blank=True)
    refused = models.BooleanField(default=False)
    refusal = models.CharField(
        max_length=20,
        blank=True,
        help_text="Why it was refused (retrieval.refusals.RefusalReason): 'no_evidence', "
        "'not_answerable', 'declined', 'unsupported' or 'not_covered'; empty for an answer.",
    )
    cached = models.BooleanField(default=False, help_text="Answered from the answer cache.")
    answer_check = models.CharField(
        max_length=20,
        blank=True,
        help_text="What the answer checks did: empty (served as written), 'blocked' (withheld: "
        "a link, address or credentials request its sources do not hold) or 'ungrounded' "
        "(served, marked: its citations do not support it).",
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"query {self.pk} at {self.created_at:%Y-%m-%d %H:%M}"


class FeedbackRating(models.TextChoices):
    UP = "up", "Helpful"
    DOWN = "down", "Not helpful"


class Feedback(models.Model):
    query_log = models.OneToOneField(QueryLog, on_delete=models.CASCADE, related_name="feedback")
    rating = models.CharField(max_length=4, choices=FeedbackRating.choices)
    comment_redacted = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.rating} on query {self.query_log_id}"


class Conversation(models.Model):
    """A user's chat history: private to its owner (staff included), deleted on request.

    Never linked to the query log: no QueryLog id is stored here or on a Turn, so the log's
    pseudonyms cannot be joined back to the person through this table; and the title and the
    turns' text are encrypted (kb.conversation_crypto), so neither can their words."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = EncryptedTextField(help_text="The first question, shortened; encrypted at rest.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-updated_at", "-pk"]

    def __str__(self) -> str:
        return self.title


class TurnRole(models.TextChoices):
    USER = "user", "Question"
    ASSISTANT = "assistant", "Answer"


class Turn(models.Model):
    """One question or answer of a conversation, in order of `pk`. Citations keep only what
    points at a source (n, document id, title, page, section, chunk id): reopening re-checks
    access. A refused answer has no citations: its `citations` are the closest sources it
    names instead. `unverified` says where an answer's unsupported sentences stand in its
    content as offsets only, never their words: the content is encrypted at rest."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="turns")
    role = models.CharField(max_length=10, choices=TurnRole.choices)
    content = EncryptedTextField(help_text="The question or answer; encrypted at rest.")
    citations = models.JSONField(default=list, blank=True)
    refused = models.BooleanField(default=False)
    unverified = models.JSONField(
        default=list,
        blank=True,
        help_text="Where the answer's sentences its sources do not support stand in its "
        "content: [start, end] character offsets (end exclusive), no text. The chat marks them "
        "unverified.",
    )

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.role} in conversation {self.conversation_id}"


class IdentitySource(models.TextChoices):
    LOCAL = "local", "Quarry (password set here)"
    OIDC = "oidc", "single sign-on (OpenID Connect)"
    LDAP = "ldap", "directory (LDAP)"


class ExternalIdentity(models.Model):
    """Where an account came from when it is not a local one: the identity provider or
    directory, and the person's stable id there (OIDC `iss` + `sub`, an LDAP DN). Sign-ins are
    matched on that id, never on a name the source lets people choose, so a person cannot take
    over a local account by calling themselves "admin" at the provider. A user without a row
    is a local account."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external_identity"
    )
    source = models.CharField(max_length=10, choices=IdentitySource.choices)
    subject = models.CharField(max_length=500, help_text="The person's stable id at the source.")
    groups_synced_at = models.DateTimeField(
        null=True, blank=True, help_text="When the groups were last copied from the source."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "subject"], name="unique_external_subject")
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()}: {self.subject}"
