"""One small company used by the access tests: who is in which group, what each may read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser, Group

from kb.models import Collection, Document
from tests.support.factories import CollectionFactory, DocumentFactory, GroupFactory, UserFactory


@dataclass
class World:
    users: dict[str, Any]
    collections: dict[str, Collection]
    documents: dict[str, Document]


# Persona -> the documents it must see, exactly.
EXPECTED_VISIBLE: dict[str, set[str]] = {
    "hr_reader": {"handbook", "payroll-policy", "company-news"},
    "hr_lead": {"handbook", "payroll-policy", "salaries", "company-news"},
    "engineer": {"runbook", "architecture", "company-news"},
    "eng_editor": {"runbook", "architecture", "company-news"},
    "no_groups": {"company-news"},
    "staff": {
        "handbook",
        "payroll-policy",
        "salaries",
        "runbook",
        "architecture",
        "company-news",
    },
    "deactivated_hr": set(),
    "anonymous": set(),
}


def build_world() -> World:
    hr, hr_leads, eng, eng_editors = (
        GroupFactory.create(name=n) for n in ("hr", "hr-leads", "eng", "eng-editors")
    )
    hr_col = CollectionFactory.create(name="HR", reader_groups=[hr, hr_leads])
    eng_col = CollectionFactory.create(
        name="Engineering", reader_groups=[eng], editor_groups=[eng_editors]
    )
    open_col = CollectionFactory.create(name="Company", open_to_all_authenticated=True)
    documents = {
        "handbook": DocumentFactory.create(title="handbook", collection=hr_col),
        "payroll-policy": DocumentFactory.create(title="payroll-policy", collection=hr_col),
        "salaries": DocumentFactory.create(
            title="salaries", collection=hr_col, reader_groups=[hr_leads]
        ),
        "runbook": DocumentFactory.create(title="runbook", collection=eng_col),
        "architecture": DocumentFactory.create(title="architecture", collection=eng_col),
        "company-news": DocumentFactory.create(title="company-news", collection=open_col),
    }
    users: dict[str, Any] = {
        "hr_reader": UserFactory.create(username="alice", groups=[hr]),
        "hr_lead": UserFactory.create(username="carol", groups=[hr, hr_leads]),
        "engineer": UserFactory.create(username="bob", groups=[eng]),
        "eng_editor": UserFactory.create(username="erin", groups=[eng_editors]),
        "no_groups": UserFactory.create(username="dave"),
        "staff": UserFactory.create(username="sam", is_staff=True),
        "deactivated_hr": UserFactory.create(username="frank", groups=[hr], is_active=False),
        "anonymous": AnonymousUser(),
    }
    collections = {"hr": hr_col, "eng": eng_col, "open": open_col}
    return World(users=users, collections=collections, documents=documents)


# The same company with real, ingested documents (the integration fixture `indexed_world`): each
# document says TOPIC and carries its canary, so a leak is visible wherever it appears.
TOPIC = "The office coffee machine is descaled every Friday by the facilities team."


def canary(title: str) -> str:
    return f"CANARY-{title.upper()}-7F3A"


@dataclass
class IndexedWorld:
    world: World
    documents: dict[str, Document]  # title -> the ingested document


def group(name: str) -> Group:
    return Group.objects.get(name=name)
