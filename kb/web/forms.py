"""Forms of the manage pages. They validate input; the rules themselves live in kb.access."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth.models import Group

from kb import access
from kb.access import AnyUser, CollectionAccess
from kb.models import Collection
from kb.selectors.collections import collection_name_taken
from kb.selectors.users import group_list


class GroupsField(forms.ModelMultipleChoiceField[Group]):
    """Offers only the groups the signed-in user may grant (set by the form per user)."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, label: str, help_text: str) -> None:
        super().__init__(
            queryset=Group.objects.none(), required=False, label=label, help_text=help_text
        )

    def label_from_instance(self, obj: Group) -> str:
        return obj.name


class AccessForm(forms.Form):
    """Who reads and who edits a collection (`collection` None: a new one). An editor sees and
    changes only their own groups; the other groups keep their setting (kb.access)."""

    reader_groups = GroupsField("Reader groups", "Members may ask questions over it.")
    editor_groups = GroupsField(
        "Editor groups", "Members may also upload, retry and delete documents."
    )
    open_to_all_authenticated = forms.BooleanField(
        required=False,
        label="Open to everyone who signs in",
        help_text="Every active user may read it, whatever their groups.",
    )

    def __init__(
        self, *args: Any, user: AnyUser, collection: Collection | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.collection = collection
        for name in ("reader_groups", "editor_groups"):
            cast(GroupsField, self.fields[name]).queryset = group_list(user=user)

    @property
    def shows_every_group(self) -> bool:
        return access.may_create_collections(self.user)

    @property
    def may_open(self) -> bool:
        """Only staff open a collection to everyone; an editor may still close an open one."""
        return self.shows_every_group or bool(
            self.collection and self.collection.open_to_all_authenticated
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        current = CollectionAccess.of(self.collection) if self.collection else None
        try:
            access.access_after_change(self.user, current=current, wanted=self._wanted(cleaned))
        except access.AccessChangeRefused as exc:
            self.add_error(exc.field, exc.message)
        return cleaned

    def _wanted(self, cleaned: dict[str, Any]) -> CollectionAccess:
        return CollectionAccess(
            reader_group_ids=frozenset(group.pk for group in cleaned.get("reader_groups", [])),
            editor_group_ids=frozenset(group.pk for group in cleaned.get("editor_groups", [])),
            open_to_all_authenticated=bool(cleaned.get("open_to_all_authenticated")),
        )

    def group_names(self, field: str) -> list[str]:
        return [group.name for group in self.cleaned_data[field]]


class CollectionForm(AccessForm):
    name = forms.CharField(max_length=200)
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )
    field_order = ["name", "description", "reader_groups", "editor_groups"]

    def clean_name(self) -> str:
        """Only staff create collections, and staff see every one: the message reveals
        nothing to them."""
        name = str(self.cleaned_data["name"]).strip()
        if collection_name_taken(name=name):
            raise forms.ValidationError("A collection with this name exists.")
        return name
