"""Which models a caller may use: `quarry` (every collection they may read) and `quarry/<slug>`
per readable collection. A model is a scope, never a different model: every one is answered
by the same answer path and model (settings.KB_LLM_MODEL_NAME)."""

from __future__ import annotations

from typing import Any

from kb.access import AnyUser
from kb.openai_api.errors import ModelNotFound
from kb.openai_api.objects import model_object
from kb.selectors.collections import collection_get_readable_by_slug, collection_list_for_user

EVERYTHING = "quarry"
PREFIX = "quarry/"


def model_list(*, user: AnyUser) -> list[dict[str, Any]]:
    collections = list(collection_list_for_user(user=user).order_by("name"))
    created = [int(c.created_at.timestamp()) for c in collections]
    models = [model_object(EVERYTHING, created=min(created, default=0), name="Quarry")]
    for collection, made in zip(collections, created, strict=True):
        models.append(model_object(PREFIX + collection.slug, created=made, name=collection.name))
    return models


def model_get(*, user: AnyUser, model: str) -> dict[str, Any]:
    """ModelNotFound for a model that is unknown or not readable alike."""
    for found in model_list(user=user):
        if found["id"] == model:
            return found
    raise ModelNotFound()


def collection_ids_for(*, user: AnyUser, model: str) -> list[int] | None:
    """The collections a question to `model` searches: None for all the caller may read;
    ModelNotFound for a model that is unknown or not readable alike."""
    if model == EVERYTHING:
        return None
    collection = None
    if model.startswith(PREFIX):
        collection = collection_get_readable_by_slug(user=user, slug=model.removeprefix(PREFIX))
    if collection is None:
        raise ModelNotFound()
    return [collection.pk]
