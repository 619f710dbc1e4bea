"""The access policy: the one place that decides who may read what.

Everything asks here: the REST API and views (database queries), ingestion (the ACL entries
stamped on every chunk in Qdrant and the graph) and retrieval (the scope each store filters by,
and the post-check of each candidate's document). The two halves must agree: a user may read a
document exactly when `user_acl(user)` shares an entry with `document_acl(document)` and the
document's collection is in `readable_collections(user)`.

Rules:
- Inactive and anonymous users read nothing.
- Staff read and manage every collection.
- A collection's readers are its reader and editor groups, plus every active user when
  `open_to_all_authenticated` is set. A user with no groups reads only open collections.
- A document with its own reader groups narrows its collection's readers to those groups.
- Writers reach only what they read: an upload deduplicates against or re-versions only
  documents its uploader may read and edit (`matchable_documents`), and an editor deletes a
  collection only when every document in it is one they may manage (`may_delete_collection`).
- Only staff create collections, open one to every signed-in user, or give read or edit
  access to groups they are not in. An editor changing a collection they edit adds or removes
  only groups they belong to; every other group keeps its setting (`access_after_change`).
- The operator at the server's console (`CONSOLE`: management commands, benchmarks) writes
  like staff; every request path passes its signed-in user instead.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.db.models import Exists, OuterRef, Q, QuerySet

from kb.models import Collection, Document
from kb.stores.types import AccessScope

ACL_STAFF = "staff"
ACL_AUTHENTICATED = "authenticated"

AnyUser = AbstractBaseUser | AnonymousUser


class ConsoleOperator:
    """Whoever runs a management command on the server (kb_ingest, benchmarks). They hold the
    database and can make themselves staff with `kb_user --staff`, so they write like staff;
    an explicit value rather than None, so that no request path can fall into it by accident."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "CONSOLE"


CONSOLE = ConsoleOperator()
Writer = AnyUser | ConsoleOperator


def group_acl(group_id: int) -> str:
    return f"group:{group_id}"


def _is_reader(user: AnyUser) -> bool:
    return bool(user.is_authenticated and user.is_active)


def _is_staff(user: AnyUser) -> bool:
    return _is_reader(user) and bool(getattr(user, "is_staff", False))


def _group_ids(user: AnyUser) -> list[int]:
    return list(user.groups.values_list("id", flat=True)) if _is_reader(user) else []  # type: ignore[union-attr]  # a reader is a signed-in User


def user_acl(user: AnyUser) -> list[str]:
    """The ACL entries a user holds; empty for inactive or anonymous users."""
    if not _is_reader(user):
        return []
    entries = [ACL_AUTHENTICATED, *(group_acl(gid) for gid in _group_ids(user))]
    if _is_staff(user):
        entries.append(ACL_STAFF)
    return entries


def readable_collections(user: AnyUser) -> QuerySet[Collection]:
    if not _is_reader(user):
        return Collection.objects.none()
    if _is_staff(user):
        return Collection.objects.all()
    groups = _group_ids(user)
    return Collection.objects.filter(
        Q(open_to_all_authenticated=True)
        | Q(reader_groups__in=groups)
        | Q(editor_groups__in=groups)
    ).distinct()


def editable_collections(user: AnyUser) -> QuerySet[Collection]:
    """Collections a user may upload to and change documents in."""
    if not _is_reader(user):
        return Collection.objects.none()
    if _is_staff(user):
        return Collection.objects.all()
    return Collection.objects.filter(editor_groups__in=_group_ids(user)).distinct()


def may_administer(user: AnyUser) -> bool:
    """Who manages collections, documents and tokens in /admin/: staff, by this rule rather
    than by Django model permissions (which `kb_user --staff` does not hand out)."""
    return _is_staff(user)


def may_manage(user: AnyUser) -> bool:
    """Who reaches the manage pages: staff, and editors of any collection."""
    return _is_staff(user) or (_is_reader(user) and editable_collections(user).exists())


def _writes_as_staff(writer: Writer) -> bool:
    return isinstance(writer, ConsoleOperator) or _is_staff(writer)


def may_create_collections(writer: Writer) -> bool:
    """Staff only: a new collection decides whose answers its text reaches, so an editor who
    could create one could push text into any group's answers."""
    return _writes_as_staff(writer)


def may_edit_with(user: AnyUser, *, editor_group_ids: set[int]) -> bool:
    """Whether `user` would still edit a collection whose editor groups were these: staff
    always; anyone else only through a group they belong to (no one locks themselves out)."""
    return _is_staff(user) or bool(set(_group_ids(user)) & editor_group_ids)


def grantable_groups(user: AnyUser) -> QuerySet[Group]:
    """The groups `user` may give access to, and the only group names a form shows them:
    every group for staff, their own groups for anyone else."""
    if _is_staff(user):
        return Group.objects.all()
    return Group.objects.filter(pk__in=_group_ids(user))


@dataclass(frozen=True)
class CollectionAccess:
    """Who reads and who edits a collection (group ids), and whether every signed-in user
    reads it."""

    reader_group_ids: frozenset[int]
    editor_group_ids: frozenset[int]
    open_to_all_authenticated: bool

    @classmethod
    def of(cls, collection: Collection) -> CollectionAccess:
        return cls(
            reader_group_ids=frozenset(collection.reader_groups.values_list("id", flat=True)),
            editor_group_ids=frozenset(collection.editor_groups.values_list("id", flat=True)),
            open_to_all_authenticated=collection.open_to_all_authenticated,
        )


class AccessChangeRefused(Exception):
    """A collection or access change the actor may not make. `field` names what to correct
    (None: the whole request); the message speaks to the actor and names nothing they
    cannot see."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


ONLY_STAFF_CREATE = "Only administrators create collections."
ONLY_STAFF_OPEN = "Only administrators open a collection to everyone who signs in."
OWN_GROUPS_ONLY = "You may give access only to groups you belong to."
LOCKOUT = (
    "Choose at least one editor group you belong to; otherwise you could no longer manage "
    "this collection."
)


def access_after_change(
    writer: Writer, *, current: CollectionAccess | None, wanted: CollectionAccess
) -> CollectionAccess:
    """The access to store when `writer` asks for `wanted` (`current` None: a new collection),
    or AccessChangeRefused. Staff get what they ask. An editor may not add a group they are
    not in, and their request speaks only for their own groups: every other group keeps its
    current setting, so a form that shows an editor only their own groups cannot remove the
    others by leaving them out."""
    if isinstance(writer, ConsoleOperator) or _is_staff(writer):
        return wanted
    if current is None:
        raise AccessChangeRefused(ONLY_STAFF_CREATE)
    own = frozenset(_group_ids(writer))
    for field in ("reader_group_ids", "editor_group_ids"):
        if getattr(wanted, field) - getattr(current, field) - own:
            raise AccessChangeRefused(OWN_GROUPS_ONLY, field=field.replace("_ids", "s"))
    if wanted.open_to_all_authenticated and not current.open_to_all_authenticated:
        raise AccessChangeRefused(ONLY_STAFF_OPEN, field="open_to_all_authenticated")
    merged = replace(
        wanted,
        reader_group_ids=(current.reader_group_ids - own) | wanted.reader_group_ids,
        editor_group_ids=(current.editor_group_ids - own) | wanted.editor_group_ids,
    )
    if not may_edit_with(writer, editor_group_ids=set(merged.editor_group_ids)):
        raise AccessChangeRefused(LOCKOUT, field="editor_groups")
    return merged


def readable_documents(user: AnyUser) -> QuerySet[Document]:
    collections = readable_collections(user)
    documents = Document.objects.filter(collection__in=collections)
    if _is_staff(user):
        return documents
    narrowed = Document.reader_groups.through.objects.filter(document_id=OuterRef("pk"))
    allowed = narrowed.filter(group_id__in=_group_ids(user))
    return documents.filter(~Exists(narrowed) | Exists(allowed))


def editable_documents(user: AnyUser) -> QuerySet[Document]:
    """Documents a user may retry and delete: ones they may read, in collections they edit.
    A document narrowed to groups an editor is not in stays out of the editor's sight."""
    return readable_documents(user).filter(collection__in=editable_collections(user))


DELETE_NEEDS_EVERY_DOCUMENT = (
    "This collection holds documents you may not manage, so only an administrator can delete it."
)


def may_delete_collection(writer: Writer, *, collection: Collection) -> bool:
    """Deleting a collection deletes every document in it. Staff (and the console) may; an
    editor of it only when every document in it is one they may manage: a document narrowed
    to groups the editor is not in is not theirs to destroy (writers reach only what they
    read)."""
    if isinstance(writer, ConsoleOperator) or _is_staff(writer):
        return True
    if not editable_collections(writer).filter(pk=collection.pk).exists():
        return False
    unmanageable = collection.documents.exclude(pk__in=editable_documents(writer).values("pk"))
    return not unmanageable.exists()


def matchable_documents(writer: Writer, *, collection: Collection) -> QuerySet[Document]:
    """What an upload by `writer` may deduplicate against or re-version: only documents they
    may read and edit. Matching a hidden one would reveal its id, title and file name in the
    outcome, and a new version would replace its content for its real readers."""
    if isinstance(writer, ConsoleOperator):
        return collection.documents.all()
    return editable_documents(writer).filter(collection=collection)


def readable_document_ids(user: AnyUser, document_ids: set[int]) -> set[int]:
    """The post-check every retrieved chunk passes before it can reach a prompt: which of
    `document_ids` `user` may read, for a page of retrieval candidates at once."""
    if not document_ids:
        return set()
    found = readable_documents(user).filter(pk__in=document_ids).values_list("pk", flat=True)
    return set(found)


def collection_acl(collection: Collection) -> list[str]:
    groups = set(collection.reader_groups.values_list("id", flat=True))
    groups |= set(collection.editor_groups.values_list("id", flat=True))
    entries = [ACL_STAFF, *(group_acl(gid) for gid in sorted(groups))]
    if collection.open_to_all_authenticated:
        entries.append(ACL_AUTHENTICATED)
    return entries


def document_acl(document: Document) -> list[str]:
    """The entries stamped on every chunk of a document in every store."""
    narrowed = sorted(document.reader_groups.values_list("id", flat=True))
    if not narrowed:
        return collection_acl(document.collection)
    return [ACL_STAFF, *(group_acl(gid) for gid in narrowed)]


def access_scope(user: AnyUser, *, collection_ids: list[int] | None = None) -> AccessScope:
    """What the stores filter by. Requested collections the user cannot read are dropped
    silently: asking for a forbidden collection looks like asking for an empty one."""
    readable = set(readable_collections(user).values_list("id", flat=True))
    if collection_ids is not None:
        readable &= set(collection_ids)
    return AccessScope(collection_ids=sorted(readable), acl=user_acl(user))
