"""Writes on collections: creation, access and deletion (as far as kb.access lets the actor).
Each access change re-stamps the collection's chunks once the transaction commits; a deletion
takes its documents out of every store and the storage once it commits."""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils.text import slugify

from kb import access
from kb.access import Writer
from kb.models import Collection
from kb.services.documents import documents_delete, restamp_later


class UnknownGroups(ValueError):
    """Names that match no group. Collections never create groups: a typo would otherwise
    grant access to a new, empty group, and creating groups is `kb_user`'s job."""

    def __init__(self, names: Sequence[str], *, field: str) -> None:
        super().__init__(f"No group named {', '.join(repr(name) for name in names)}.")
        self.names = list(names)
        self.field = field


def groups_by_name(names: Sequence[str], *, field: str = "groups") -> list[Group]:
    """The groups of these names (blank names ignored); UnknownGroups if any is missing."""
    wanted = {name.strip() for name in names if name.strip()}
    found = list(Group.objects.filter(name__in=wanted))
    missing = sorted(wanted - {group.name for group in found})
    if missing:
        raise UnknownGroups(missing, field=field)
    return found


def _group_ids(writer: Writer, names: Sequence[str], *, field: str) -> frozenset[int]:
    """Only staff may learn which group names exist: anyone else hears the same refusal for
    a missing group as for a group they are not in."""
    try:
        return frozenset(group.pk for group in groups_by_name(names, field=field))
    except UnknownGroups:
        if access.may_create_collections(writer):
            raise
        raise access.AccessChangeRefused(access.OWN_GROUPS_ONLY, field=field) from None


@transaction.atomic
def collection_create(
    *,
    actor: Writer,
    name: str,
    reader_groups: Sequence[str] = (),
    editor_groups: Sequence[str] = (),
    open_to_all_authenticated: bool = False,
    description: str = "",
) -> Collection:
    """A new collection, if `actor` may create it with this access (kb.access decides):
    AccessChangeRefused or UnknownGroups otherwise, before anything is written."""
    wanted = access.CollectionAccess(
        reader_group_ids=_group_ids(actor, reader_groups, field="reader_groups"),
        editor_group_ids=_group_ids(actor, editor_groups, field="editor_groups"),
        open_to_all_authenticated=open_to_all_authenticated,
    )
    granted = access.access_after_change(actor, current=None, wanted=wanted)
    collection = Collection.objects.create(
        name=name, slug=collection_slug(name=name), description=description
    )
    _apply_access(collection, granted)
    return collection


def collection_slug(*, name: str) -> str:
    """A free slug for a new collection named `name`: its slugified name, "-2", "-3"... when
    taken ("R&D" and "R D"), "collection" for a name with no ASCII letter or digit ("人事")."""
    base = slugify(name) or "collection"
    taken = set(Collection.objects.filter(slug__startswith=base).values_list("slug", flat=True))
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def collection_set_access(
    *,
    actor: Writer,
    collection: Collection,
    reader_groups: Sequence[str],
    editor_groups: Sequence[str] | None = None,
    open_to_all_authenticated: bool | None = None,
) -> None:
    """Change who may read (None: leave as it is), as far as `actor` may (kb.access decides:
    an editor's change touches only their own groups); every chunk of the collection is
    re-stamped in every store."""
    current = access.CollectionAccess.of(collection)
    editors = current.editor_group_ids
    if editor_groups is not None:
        editors = _group_ids(actor, editor_groups, field="editor_groups")
    wanted = access.CollectionAccess(
        reader_group_ids=_group_ids(actor, reader_groups, field="reader_groups"),
        editor_group_ids=editors,
        open_to_all_authenticated=current.open_to_all_authenticated
        if open_to_all_authenticated is None
        else open_to_all_authenticated,
    )
    _apply_access(collection, access.access_after_change(actor, current=current, wanted=wanted))
    collection_restamp_later(collection=collection)


def _apply_access(collection: Collection, granted: access.CollectionAccess) -> None:
    collection.reader_groups.set(granted.reader_group_ids)
    collection.editor_groups.set(granted.editor_group_ids)
    if collection.open_to_all_authenticated != granted.open_to_all_authenticated:
        collection.open_to_all_authenticated = granted.open_to_all_authenticated
        collection.save(update_fields=["open_to_all_authenticated"])


def collection_restamp_later(*, collection: Collection) -> None:
    """Re-stamp every chunk of the collection once this transaction commits."""
    for document_id in collection.documents.values_list("pk", flat=True):
        restamp_later(document_id)


@transaction.atomic
def collection_delete(*, actor: Writer, collection: Collection) -> int:
    """The collection and every document in it, if `actor` may (kb.access decides:
    AccessChangeRefused otherwise, before anything is deleted). The documents go as
    `documents_delete` takes them: rows now, with their conversations' citations and the
    answers cached over them; chunks and files once this commits, or by the sweep when a store
    is down. Returns how many documents went."""
    locked = Collection.objects.select_for_update().filter(pk=collection.pk).first()
    if locked is None:
        return 0  # deleted by someone else meanwhile
    if not access.may_delete_collection(actor, collection=locked):
        raise access.AccessChangeRefused(access.DELETE_NEEDS_EVERY_DOCUMENT)
    deleted = documents_delete(documents=locked.documents.all())
    locked.delete()
    return deleted
