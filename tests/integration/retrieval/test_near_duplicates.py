"""Two documents nine-tenths the same (contract templates, a policy and its revision) stay two
documents in the results, and a question about what differs finds the one that says it."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.access import access_scope, readable_document_ids
from kb.models import Document
from retrieval.factory import default_retriever
from tests.support import ingested
from tests.support.factories import CollectionFactory, GroupFactory, UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SHARED = [
    "This services agreement is made between the supplier and the customer named above.",
    "The supplier provides hosting, monitoring and support for the customer's applications.",
    "Support requests are answered within one business day, urgent incidents within one hour.",
    "The customer pays the monthly fee within thirty days of receiving the invoice.",
    "Both parties keep the other party's confidential information secret for five years.",
    "The supplier backs up the customer's data every night and keeps the copies for a month.",
    "Each party is liable only for direct damage, up to the fees paid in the last year.",
    "Changes to this agreement are valid only in writing and signed by both parties.",
]
DIFFERS = {
    "contract-de": [
        "Either party may end this agreement with three months' notice to the end of a quarter.",
        "This agreement is governed by German law; the courts of Munich decide disputes.",
    ],
    "contract-se": [
        "Either party may end this agreement with thirty days' notice at any time.",
        "This agreement is governed by Swedish law; disputes go to arbitration in Stockholm.",
    ],
}


@pytest.fixture
def contracts(db: None, stores: Path, tmp_path: Path) -> dict[str, Document]:
    legal = GroupFactory.create(name="legal")
    collection = CollectionFactory.create(name="Contracts", reader_groups=[legal])
    pages = {
        name: " ".join([*SHARED[:6], *clauses, *SHARED[6:]]) for name, clauses in DIFFERS.items()
    }
    return ingested.text_pages(collection, pages, tmp_path)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Under which contract can we terminate with thirty days' notice?", "contract-se"),
        ("Which contract sends disputes to a court in Munich?", "contract-de"),
        ("Where is arbitration held under our agreement with Swedish law?", "contract-se"),
        ("Which agreement needs a quarter's notice to terminate?", "contract-de"),
    ],
)
def test_the_document_whose_differing_text_matches_comes_first(
    contracts: dict[str, Document], question: str, expected: str
) -> None:
    lawyer = UserFactory.create(username="lawyer", groups=[GroupFactory.create(name="legal")])
    lawyer.groups.set([contracts[expected].collection.reader_groups.get()])

    found = default_retriever().retrieve(
        question,
        scope=access_scope(lawyer),
        allowed=lambda ids: readable_document_ids(lawyer, ids),
        top_k=5,
    )

    documents = [passage.document_id for passage in found.passages]
    assert documents[0] == contracts[expected].pk
    assert set(documents) == {c.pk for c in contracts.values()}  # both stay, as two documents
