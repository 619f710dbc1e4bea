"""factory_boy factories: tests build the rows they need, no JSON fixtures."""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils.text import slugify

from kb.models import Collection, Document, DocumentStatus


class GroupFactory(factory.django.DjangoModelFactory[Group]):
    class Meta:
        model = Group
        skip_postgeneration_save = True
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"group-{n}")


class UserFactory(factory.django.DjangoModelFactory[Any]):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user-{n}")
    is_active = True

    @factory.post_generation
    def groups(self, create: bool, extracted: list[Group] | None, **kwargs: Any) -> None:
        if create and extracted:
            self.groups.set(extracted)


class CollectionFactory(factory.django.DjangoModelFactory[Collection]):
    class Meta:
        model = Collection
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"collection-{n}")
    slug = factory.LazyAttribute(lambda c: slugify(c.name))  # "HR" -> model "quarry/hr"

    @factory.post_generation
    def reader_groups(self, create: bool, extracted: list[Group] | None, **kwargs: Any) -> None:
        if create and extracted:
            self.reader_groups.set(extracted)

    @factory.post_generation
    def editor_groups(self, create: bool, extracted: list[Group] | None, **kwargs: Any) -> None:
        if create and extracted:
            self.editor_groups.set(extracted)


class DocumentFactory(factory.django.DjangoModelFactory[Document]):
    class Meta:
        model = Document
        skip_postgeneration_save = True

    collection = factory.SubFactory(CollectionFactory)
    title = factory.Sequence(lambda n: f"document-{n}")
    source_filename = factory.LazyAttribute(lambda d: f"{d.title}.txt")
    status = DocumentStatus.INDEXED

    @factory.post_generation
    def reader_groups(self, create: bool, extracted: list[Group] | None, **kwargs: Any) -> None:
        if create and extracted:
            self.reader_groups.set(extracted)
