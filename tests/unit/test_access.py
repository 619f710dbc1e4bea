"""The access policy: exact visible sets per persona, and agreement of its two halves."""

from __future__ import annotations

import pytest

from kb import access
from tests.support.personas import EXPECTED_VISIBLE, World

pytestmark = pytest.mark.unit

PERSONAS = sorted(EXPECTED_VISIBLE)


@pytest.mark.parametrize("persona", PERSONAS, ids=PERSONAS)
def test_readable_documents_is_exactly_the_expected_set(world: World, persona: str) -> None:
    user = world.users[persona]

    visible = {d.title for d in access.readable_documents(user)}

    assert visible == EXPECTED_VISIBLE[persona]


@pytest.mark.parametrize("persona", PERSONAS, ids=PERSONAS)
def test_store_filter_agrees_with_database_policy(world: World, persona: str) -> None:
    """What a store would match (collection in scope, shared ACL entry) must equal what the
    database post-check allows, for every document: the two halves of one policy."""
    user = world.users[persona]
    scope = access.access_scope(user)

    for title, document in world.documents.items():
        store_match = document.collection_id in scope.collection_ids and bool(
            set(access.document_acl(document)) & set(scope.acl)
        )
        assert store_match == _can_read(user, document.pk), title


def test_inactive_and_anonymous_users_hold_no_acl_entries(world: World) -> None:
    assert access.user_acl(world.users["deactivated_hr"]) == []
    assert access.user_acl(world.users["anonymous"]) == []
    assert access.access_scope(world.users["anonymous"]).is_empty


def test_narrowed_document_is_stamped_with_its_own_groups_only(world: World) -> None:
    hr_leads = world.users["hr_lead"].groups.get(name="hr-leads")

    stamped = access.document_acl(world.documents["salaries"])

    assert stamped == [access.ACL_STAFF, access.group_acl(hr_leads.pk)]


def test_open_collection_is_stamped_for_all_authenticated_users(world: World) -> None:
    assert access.ACL_AUTHENTICATED in access.document_acl(world.documents["company-news"])
    assert access.ACL_AUTHENTICATED not in access.document_acl(world.documents["handbook"])


def test_requesting_a_forbidden_collection_narrows_to_nothing(world: World) -> None:
    engineer = world.users["engineer"]

    scope = access.access_scope(engineer, collection_ids=[world.collections["hr"].pk])

    assert list(scope.collection_ids) == []
    assert scope.is_empty


def test_removing_a_user_from_a_group_takes_effect_on_the_next_check(world: World) -> None:
    alice = world.users["hr_reader"]
    handbook = world.documents["handbook"]
    assert _can_read(alice, handbook.pk)

    alice.groups.clear()

    assert not _can_read(alice, handbook.pk)
    assert world.collections["hr"].pk not in access.access_scope(alice).collection_ids


def test_editors_may_edit_only_their_collections(world: World) -> None:
    editable = {c.name for c in access.editable_collections(world.users["eng_editor"])}
    assert editable == {"Engineering"}
    assert not access.editable_collections(world.users["engineer"]).exists()
    assert access.editable_collections(world.users["staff"]).count() == 3


def _ids(*names: str) -> frozenset[int]:
    from django.contrib.auth.models import Group

    return frozenset(Group.objects.filter(name__in=names).values_list("id", flat=True))


def _access(
    readers: frozenset[int], editors: frozenset[int], open_: bool = False
) -> access.CollectionAccess:
    return access.CollectionAccess(
        reader_group_ids=readers, editor_group_ids=editors, open_to_all_authenticated=open_
    )


@pytest.mark.parametrize(
    ("persona", "may"),
    [("staff", True), ("eng_editor", False), ("engineer", False), ("anonymous", False)],
)
def test_only_staff_and_the_console_create_collections(
    world: World, persona: str, may: bool
) -> None:
    assert access.may_create_collections(world.users[persona]) is may
    assert access.may_create_collections(access.CONSOLE)


def test_an_editors_change_keeps_every_group_they_are_not_in(world: World) -> None:
    current = _access(_ids("eng", "eng-editors"), _ids("eng-editors"))
    wanted = _access(frozenset(), _ids("eng-editors"))

    granted = access.access_after_change(world.users["eng_editor"], current=current, wanted=wanted)

    assert granted == _access(_ids("eng"), _ids("eng-editors"))


@pytest.mark.parametrize(
    ("wanted", "field"),
    [
        (("hr", "eng-editors", False), "reader_groups"),
        (("", "hr", False), "editor_groups"),
        (("", "eng-editors", True), "open_to_all_authenticated"),
        (("", "", False), "editor_groups"),
    ],
    ids=["foreign-readers", "foreign-editors", "open-to-all", "locks-themselves-out"],
)
def test_an_editor_may_not_widen_access_or_lock_themselves_out(
    world: World, wanted: tuple[str, str, bool], field: str
) -> None:
    current = _access(_ids("eng"), _ids("eng-editors"))
    readers, editors, open_ = wanted

    with pytest.raises(access.AccessChangeRefused) as refused:
        access.access_after_change(
            world.users["eng_editor"],
            current=current,
            wanted=_access(_ids(readers), _ids(editors), open_),
        )

    assert refused.value.field == field


def test_staff_get_exactly_what_they_ask(world: World) -> None:
    wanted = _access(_ids("hr"), frozenset(), True)

    granted = access.access_after_change(world.users["staff"], current=None, wanted=wanted)

    assert granted == wanted


def _can_read(user: access.AnyUser, document_id: int) -> bool:
    """The retrieval post-check for one document."""
    return access.readable_document_ids(user, {document_id}) == {document_id}
