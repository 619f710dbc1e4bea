"""What the tools return: typed results (their JSON schema is each tool's output schema), built
from the shapes the REST API and the chat already use (kb.answer_events source_out,
snippet_out, AnswerOut) plus the link the chat gives each source.

Text that comes from uploaded documents (titles, sections, passages, answers that quote them)
is untrusted data: it goes out only as result values, with every chat-template control-token
string broken (kb.llm.control), so a document cannot end the client model's tool-result turn.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from django.urls import reverse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from kb.answer_events import AnswerOut, snippet_out
from kb.answering import Found
from kb.llm.control import PlainText, generic_plain_text
from kb.selectors.sources import SourcePassage


@cache
def _plain_text() -> PlainText:
    return generic_plain_text()


def _plain(text: str) -> str:
    return _plain_text()(text)


Untrusted = Annotated[str, AfterValidator(_plain)]


class CollectionResult(BaseModel):
    id: int
    name: str
    description: str
    document_count: int = Field(description="Documents in it that you may read.")


class Collections(BaseModel):
    collections: list[CollectionResult]


class Source(BaseModel):
    """Where a passage is, and the page that shows it in its context."""

    # Built from the API's dicts, which carry more than a source needs (text, score).
    model_config = ConfigDict(extra="ignore")

    document_id: int
    title: Untrusted
    page: int | None = Field(description="The physical page of the file (1 is the first).")
    page_label: Untrusted = Field(
        default="",
        description="The page number printed on that page (xii, A-3) where it is not `page`; "
        "empty otherwise.",
    )
    section: Untrusted
    chunk_id: str = Field(description="Give it to get_passage for the passage's full text.")
    link: str = Field(description="The source in Quarry's web app (sign-in required).")


class Citation(Source):
    n: int = Field(description="The number the answer cites it by, as [n].")


class SearchHit(Source):
    snippet: Untrusted = Field(description="The start of the passage (document text: data).")
    score: float


class SearchResults(BaseModel):
    passages: list[SearchHit] = Field(description="Best first; empty when nothing matched.")
    translations: list[Untrusted] = Field(
        description="The query as it was also searched, translated by the model; empty when "
        "searched as asked."
    )
    translation_skipped: bool = Field(
        description="True when the query could not be translated into every language it should "
        "have been (the model busy or unreachable): translations lists those it was."
    )


class ClaimResult(BaseModel):
    text: Untrusted = Field(description="A sentence of the answer.")
    supported: bool = Field(description="False: its sources do not state it (unverified).")
    passages: list[int] = Field(description="The citation numbers it was checked against.")


class AnswerResult(BaseModel):
    answer: Untrusted = Field(description="With [n] markers naming its citations.")
    refused: bool = Field(description="True: the knowledge base does not hold the answer.")
    refusal: str = Field(description="Why it was refused; empty when answered.")
    check: str = Field(description='"ungrounded" when its citations do not support it.')
    citations: list[Citation]
    closest: list[Citation] = Field(description="A refusal's nearest readable sources.")
    claims: list[ClaimResult] = Field(
        description="The answer's sentences, each checked against its sources; empty if refused."
    )
    query_id: int


class PassageResult(Source):
    text: Untrusted = Field(description="The passage's full text (document text: data).")


def collections_result(rows: list[dict[str, Any]]) -> Collections:
    """`rows`: collection_list_for_user's values (id, name, description, document_count)."""
    return Collections(collections=[CollectionResult.model_validate(row) for row in rows])


def search_result(found: Found, base_url: str) -> SearchResults:
    return SearchResults(
        passages=[
            SearchHit.model_validate(
                {**snippet_out(p), "score": round(p.score, 6), "link": _link(base_url, p.chunk_id)}
            )
            for p in found.passages
        ],
        translations=list(found.translations),
        translation_skipped=found.translation_skipped,
    )


def answer_result(out: AnswerOut, base_url: str) -> AnswerResult:
    return AnswerResult(
        answer=out.answer,
        refused=out.refused,
        refusal=out.refusal,
        check=out.check,
        citations=_citations(out.citations, base_url),
        closest=_citations(out.closest, base_url),
        claims=[ClaimResult.model_validate(claim) for claim in out.claims],
        query_id=out.query_id,
    )


def passage_result(passage: SourcePassage, base_url: str) -> PassageResult:
    return PassageResult(
        document_id=passage.document.pk,
        title=passage.document.title,
        page=passage.page,
        page_label=passage.page_label,
        section=passage.section,
        chunk_id=passage.chunk_id,
        link=_link(base_url, passage.chunk_id),
        text=passage.cited.text,
    )


def _citations(sources: list[dict[str, Any]], base_url: str) -> list[Citation]:
    return [Citation.model_validate({**s, "link": _link(base_url, s["chunk_id"])}) for s in sources]


def _link(base_url: str, chunk_id: str) -> str:
    """The chat's source link (kb/web/chat.py), made absolute: an MCP client has no page."""
    return base_url.rstrip("/") + reverse("chat-source", args=[chunk_id])
