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
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Exists, OuterRef, Q, QuerySet

from kb.models import Collection, Document
from kb.stores.types import AccessScope

ACL_STAFF = "staff"
ACL_AUTHENTICATED = "authenticated"

AnyUser = AbstractBaseUser | AnonymousUser


def group_acl(group_id: int) -> str:
    return f"group:{group_id}"


def _is_reader(user: AnyUser) -> bool:
    return bool(user.is_authenticated and user.is_active)


def _is_staff(user: AnyUser) -> bool:
    return _is_reader(user) and bool(getattr(user, "is_staff", False))


def _group_ids(user: AnyUser) -> list[int]:
    return list(user.groups.values_list("id", flat=True)) if _is_reader(user) else []  # type: ignore[union-attr]


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


def may_create_collections(user: AnyUser) -> bool:
    """Staff, and editors of any collection (they run their own corpora)."""
    return _is_staff(user) or (_is_reader(user) and editable_collections(user).exists())


def may_edit_with(user: AnyUser, *, editor_group_ids: set[int]) -> bool:
    """Whether `user` would still edit a collection whose editor groups were these: staff
    always; anyone else only through a group they belong to (no one locks themselves out)."""
    return _is_staff(user) or bool(set(_group_ids(user)) & editor_group_ids)


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


def can_read_document(user: AnyUser, document_id: int) -> bool:
    """The post-check every retrieved chunk passes before it can reach a prompt."""
    return readable_documents(user).filter(pk=document_id).exists()


def readable_document_ids(user: AnyUser, document_ids: set[int]) -> set[int]:
    """Batch form of `can_read_document` for a page of retrieval candidates."""
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
