"""The chunk sequence and who may read it: documents in collections, reader groups, three users.

The layout is planned with a seeded generator; the access is the production policy's: groups,
collections, documents and users become database rows (with the plan's ids), every chunk
carries `kb.access.document_acl` of its document, and each user's scope is
`kb.access.access_scope`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from bench.latency.corpus import SEED, SourceDocument, recombine

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from kb.stores.types import AccessScope

SCOPES = ("staff", "broad", "narrow")
COLLECTIONS = 20
GROUPS = 50
NARROWED_DOCUMENTS = 0.10
NARROW_COLLECTION_SHARE = 0.005
BROAD_RANGE = (0.05, 0.20)
Json = dict[str, Any]


@dataclass(frozen=True)
class BenchChunk:
    id: str
    document_id: int
    collection_id: int
    number: int
    source: str
    title: str
    section: str
    text: str
    acl: tuple[str, ...]
    real_text: bool
    row: int  # position in the sequence, and the row of its dense vector


@dataclass
class Layout:
    chunks: list[BenchChunk]
    readers: dict[int, list[int]]  # collection id -> reader group ids
    narrow_collection: int
    broad_groups: list[int]
    documents_narrowed: int = 0
    scopes: dict[str, AccessScope] = field(default_factory=dict)

    def scope_share(self, scope: AccessScope, size: int) -> float:
        return round(sum(1 for c in self.chunks[:size] if matches(c, scope)) / size, 4)

    def describe(self, sizes: Sequence[int]) -> Json:
        return {
            "collections": len(self.readers),
            "groups": GROUPS,
            "readers_per_collection": {str(c): g for c, g in self.readers.items()},
            "documents_narrowed_share": NARROWED_DOCUMENTS,
            "scopes": {
                name: {
                    "collection_ids": list(scope.collection_ids),
                    "acl": list(scope.acl),
                    "share_of_chunks": {str(n): self.scope_share(scope, n) for n in sizes},
                }
                for name, scope in self.scopes.items()
            },
        }


def matches(chunk: BenchChunk, scope: AccessScope) -> bool:
    """The stores' filter (kb.stores.types.AccessScope), to count a scope's share of chunks."""
    return chunk.collection_id in scope.collection_ids and not set(chunk.acl).isdisjoint(scope.acl)


def build_layout(documents: Sequence[SourceDocument], size: int) -> Layout:
    """`size` chunks in documents: the real ones in a seeded order, then recombined ones; each
    document in a collection, some narrowed to one reader group; the three scopes. Writes the
    access rows to the database."""
    from kb.stores.payload import chunk_id

    rng = random.Random(SEED)  # noqa: S311 - a reproducible layout, not a secret
    weights = [1 / rank**0.7 for rank in range(1, COLLECTIONS)]  # Zipf-like sizes
    collection_ids = list(range(1, COLLECTIONS + 1))
    narrow_collection = collection_ids[-1]
    readers = {c: sorted(rng.sample(range(1, GROUPS), rng.randint(1, 3))) for c in collection_ids}
    readers[narrow_collection] = [GROUPS]  # the narrow user's only group reads only this one
    chunks: list[BenchChunk] = []
    documents_in: dict[int, tuple[int, str, int | None]] = {}  # collection, title, narrowed to
    in_narrow = 0
    for document_id, (template, real) in enumerate(_documents(documents, rng), start=1):
        if len(chunks) >= size:
            break
        collection = rng.choices(collection_ids[:-1], weights=weights)[0]
        taken = min(len(template.chunks), size - len(chunks))
        if in_narrow + taken <= NARROW_COLLECTION_SHARE * (len(chunks) + taken):
            collection = narrow_collection  # keeps its share in every prefix of the sequence
            in_narrow += taken
        groups = readers[collection]
        narrowed = None
        if rng.random() < NARROWED_DOCUMENTS and len(groups) > 1:
            narrowed = rng.choice(groups)
        documents_in[document_id] = (collection, template.title, narrowed)
        for number, chunk in enumerate(template.chunks[: size - len(chunks)]):
            text = chunk.text if real else recombine(chunk.text, _partner(template, documents, rng))
            chunks.append(
                BenchChunk(
                    id=chunk_id(document_id, 1, number),
                    document_id=document_id,
                    collection_id=collection,
                    number=number,
                    source=template.source,
                    title=template.title,
                    section=chunk.section,
                    text=text,
                    acl=(),
                    real_text=real,
                    row=len(chunks),
                )
            )
    acl = _write_access(readers, documents_in)
    chunks = [replace(c, acl=acl[c.document_id]) for c in chunks]
    narrowed_count = sum(1 for _, _, group in documents_in.values() if group is not None)
    layout = Layout(chunks, readers, narrow_collection, [], narrowed_count)
    layout.broad_groups = _broad_groups(layout, rng)
    layout.scopes = {
        "staff": _scope("bench-staff", staff=True),
        "broad": _scope("bench-broad", groups=layout.broad_groups),
        "narrow": _scope("bench-narrow", groups=[GROUPS]),
    }
    return layout


def _documents(
    documents: Sequence[SourceDocument], rng: random.Random
) -> Iterator[tuple[SourceDocument, bool]]:
    """The real documents in a seeded order, then the same order again and again as templates
    for recombined documents."""
    order = list(documents)
    rng.shuffle(order)
    yield from ((document, True) for document in order)
    while True:
        yield from ((document, False) for document in order)


def _partner(
    template: SourceDocument, documents: Sequence[SourceDocument], rng: random.Random
) -> str:
    """A random chunk text of the same source (same language) as the template."""
    while True:
        other = documents[rng.randrange(len(documents))]
        if other.source == template.source:
            return other.chunks[rng.randrange(len(other.chunks))].text


def _write_access(
    readers: dict[int, list[int]], documents: dict[int, tuple[int, str, int | None]]
) -> dict[int, tuple[str, ...]]:
    """Groups, collections with their reader groups, and documents (narrowed ones with their
    one group) as rows with the plan's ids; returns each document's `document_acl`."""
    from django.contrib.auth.models import Group

    from kb.access import document_acl
    from kb.models import Collection, Document, DocumentStatus

    Group.objects.bulk_create([Group(id=g, name=f"bench-group-{g}") for g in range(1, GROUPS + 1)])
    for collection_id, groups in readers.items():
        collection = Collection.objects.create(
            id=collection_id, name=f"bench-{collection_id}", slug=f"bench-{collection_id}"
        )
        collection.reader_groups.set(groups)
    rows = [
        Document(
            id=document_id,
            collection_id=collection,
            title=title,
            source_filename=f"{document_id}.html",
            version=1,
            indexed_version=1,
            status=DocumentStatus.INDEXED,
        )
        for document_id, (collection, title, _narrowed) in documents.items()
    ]
    Document.objects.bulk_create(rows, batch_size=500)
    Document.reader_groups.through.objects.bulk_create(
        [
            Document.reader_groups.through(document_id=document_id, group_id=narrowed)
            for document_id, (_collection, _title, narrowed) in documents.items()
            if narrowed is not None
        ],
        batch_size=500,
    )
    stored = Document.objects.select_related("collection").filter(pk__in=list(documents))
    return {row.pk: tuple(document_acl(row)) for row in stored}


def _user(username: str, *, staff: bool = False, groups: Sequence[int] = ()) -> User:
    from django.contrib.auth.models import User

    user = User.objects.create_user(username=username, is_staff=staff)
    user.groups.set(groups)
    return user


def _scope(username: str, *, staff: bool = False, groups: Sequence[int] = ()) -> AccessScope:
    from kb.access import access_scope

    return access_scope(_user(username, staff=staff, groups=groups))


def _broad_groups(layout: Layout, rng: random.Random) -> list[int]:
    """Two groups whose scope is closest to the middle of BROAD_RANGE, among seeded pairs."""
    from kb.access import access_scope

    low, high = BROAD_RANGE
    target = (low + high) / 2
    size = len(layout.chunks)
    best: tuple[float, list[int]] = (1.0, [1, 2])
    probe = _user("bench-probe")
    for _ in range(60):
        groups = sorted(rng.sample(range(1, GROUPS), 2))
        probe.groups.set(groups)
        share = layout.scope_share(access_scope(probe), size)
        if low <= share <= high and abs(share - target) < best[0]:
            best = (abs(share - target), groups)
    probe.delete()
    return best[1]
