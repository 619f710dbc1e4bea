from __future__ import annotations

from rest_framework import serializers

from kb.models import Document, DocumentStatus
from retrieval.refusals import RefusalReason

# Pages start at most this far in: any larger offset would only ever be an empty page.
MAX_OFFSET = 2**31 - 1


class CollectionOut(serializers.Serializer[object]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    document_count = serializers.IntegerField()
    indexed_count = serializers.IntegerField()


class CollectionIn(serializers.Serializer[object]):
    """Staff only (kb.access.may_create_collections); groups must exist, none is created."""

    name = serializers.CharField(max_length=200)
    description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2000
    )
    reader_groups = serializers.ListField(
        child=serializers.CharField(max_length=150), required=False, default=list, max_length=200
    )
    editor_groups = serializers.ListField(
        child=serializers.CharField(max_length=150), required=False, default=list, max_length=200
    )
    open_to_all_authenticated = serializers.BooleanField(required=False, default=False)


class CollectionCreatedOut(serializers.Serializer[object]):
    id = serializers.IntegerField()
    name = serializers.CharField()


class DocumentOut(serializers.ModelSerializer[Document]):
    class Meta:
        model = Document
        fields = [
            "id",
            "title",
            "status",
            "progress",
            "stage",
            "error",
            "chunk_count",
            "page_count",
            "collection",
            "source_filename",
            "version",
            "created_at",
            "updated_at",
        ]


class DocumentListIn(serializers.Serializer[object]):
    status = serializers.ChoiceField(choices=DocumentStatus.values, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=500, default=100)
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0)


class DocumentPageOut(serializers.Serializer[object]):
    count = serializers.IntegerField(help_text="Documents matching, over all pages")
    results = DocumentOut(many=True)


class UploadedOut(serializers.Serializer[object]):
    id = serializers.IntegerField()
    title = serializers.CharField()
    source_filename = serializers.CharField()
    status = serializers.CharField()
    outcome = serializers.ChoiceField(choices=["created", "new_version", "unchanged"])


class UploadIn(serializers.Serializer[object]):
    files = serializers.ListField(child=serializers.FileField(), allow_empty=False)


class MeOut(serializers.Serializer[object]):
    username = serializers.CharField()
    is_staff = serializers.BooleanField()
    groups = serializers.ListField(child=serializers.CharField())


PAGE_HELP = "The physical page of the file (1 is the first); null where the format has no pages."
PAGE_LABEL_HELP = (
    "The page number printed on that page, from the PDF's page labels (`xii` in roman front "
    "matter, `1` where the body's numbering starts), where it is not `page`; empty otherwise."
)


class SourceOut(serializers.Serializer[object]):
    """Where a passage is (kb.answer_events.source_out): a refusal's closest sources."""

    n = serializers.IntegerField()
    document_id = serializers.IntegerField()
    title = serializers.CharField()
    page = serializers.IntegerField(allow_null=True, help_text=PAGE_HELP)
    page_label = serializers.CharField(allow_blank=True, help_text=PAGE_LABEL_HELP)
    section = serializers.CharField(allow_blank=True)
    chunk_id = serializers.CharField()


class CitationOut(SourceOut):
    """A cited passage: its source and text (kb.answer_events.passage_out)."""

    text = serializers.CharField()
    score = serializers.FloatField()


class ClaimOut(serializers.Serializer[object]):
    """A sentence of the answer checked against the passages it cites (answer_events.claim_out)."""

    text = serializers.CharField()
    supported = serializers.BooleanField(
        help_text="False: the passages it was checked against do not state it; treat it as "
        "unverified and read the sources."
    )
    passages = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="The numbers (`n`) of the passages it was checked against: those it cites, "
        "else all the answer was given.",
    )
    start = serializers.IntegerField(
        allow_null=True,
        help_text="Where it starts in `answer`: a character offset (Unicode code points, from "
        "0), to mark it there without searching for its text; null if it is not found there "
        "(not expected).",
    )
    end = serializers.IntegerField(
        allow_null=True,
        help_text="Where it ends in `answer` (exclusive): `answer[start:end]` is the sentence.",
    )


class QueryOut(serializers.Serializer[object]):
    query_id = serializers.IntegerField()
    answer = serializers.CharField(
        help_text="The answer; for a refusal, the refusal text in the question's language: "
        "'Not found in the knowledge base.' and the closest sources found, if any."
    )
    refused = serializers.BooleanField()
    refusal = serializers.ChoiceField(
        choices=[reason.value for reason in RefusalReason],
        help_text="Why it was refused; empty for an answer. `no_evidence`: no passage you may "
        "read is close enough to the question. `not_answerable`: the passages found do not "
        "hold the answer. `declined`: the model said it does not know. `unsupported`: no "
        "sentence of the model's answer is supported by its sources. `not_covered`: the "
        "question names something (a product, service or identifier) that none of the passages "
        "found mentions; `gap` names it.",
    )
    check = serializers.ChoiceField(
        choices=["", "blocked", "ungrounded"],
        help_text="Empty: served as written (and for a refusal). `blocked`: withheld, `answer` "
        "says so (it held a link, address or credentials request its sources lack). "
        "`ungrounded`: its citations do not support it; read the sources.",
    )
    citations = CitationOut(many=True, help_text="Empty for a refusal.")
    claims = ClaimOut(
        many=True,
        help_text="The answer's sentences that state something, each checked against its "
        "sources; empty for a refusal and a blocked answer. An answer none of whose claims is "
        "supported is refused instead (`refusal: unsupported`).",
    )
    closest = SourceOut(
        many=True,
        help_text="A refusal's closest sources, which you may read (at most one per document "
        "section); empty for an answer and when nothing came close.",
    )
    gap = serializers.CharField(
        allow_blank=True,
        help_text="A refusal's sentence naming the question's words that its closest sources "
        "do not contain, in the question's language, as in `answer` (\"The closest passages "
        'do not mention “Visio”."); empty when it names none, and for an answer.',
    )


class SearchResultOut(serializers.Serializer[object]):
    chunk_id = serializers.CharField()
    document_id = serializers.IntegerField()
    title = serializers.CharField()
    page = serializers.IntegerField(allow_null=True, help_text=PAGE_HELP)
    page_label = serializers.CharField(allow_blank=True, help_text=PAGE_LABEL_HELP)
    section = serializers.CharField()
    text = serializers.CharField()
    score = serializers.FloatField()
    paths = serializers.ListField(child=serializers.CharField())


class SearchOut(serializers.Serializer[object]):
    results = SearchResultOut(many=True)
    translations = serializers.ListField(
        child=serializers.CharField(),
        help_text="The query as it was also searched, translated; empty when searched as asked.",
    )
    translation_skipped = serializers.BooleanField(
        help_text="True when the query could not be translated into every language it should "
        "have been (the model busy or unreachable): translations lists those it was. Ask "
        "again, or search with translate false."
    )


class FeedbackOut(serializers.Serializer[object]):
    query_id = serializers.IntegerField()
    rating = serializers.CharField()
