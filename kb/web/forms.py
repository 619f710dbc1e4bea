"""Forms of the manage pages. They validate input; the rules themselves live in kb.access."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import Group

from kb import access
from kb.access import AnyUser
from kb.models import Collection
from kb.selectors import group_list

LOCKOUT = (
    "Choose at least one editor group you belong to; otherwise you could no longer manage "
    "this collection."
)


class GroupsField(forms.ModelMultipleChoiceField[Group]):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, label: str, help_text: str) -> None:
        super().__init__(queryset=group_list(), required=False, label=label, help_text=help_text)

    def label_from_instance(self, obj: Group) -> str:
        return obj.name


class AccessForm(forms.Form):
    """Who reads and who edits a collection."""

    reader_groups = GroupsField("Reader groups", "Members may ask questions over it.")
    editor_groups = GroupsField(
        "Editor groups", "Members may also upload, retry and delete documents."
    )
    open_to_all_authenticated = forms.BooleanField(
        required=False,
        label="Open to everyone who signs in",
        help_text="Every active user may read it, whatever their groups.",
    )

    def __init__(self, *args: Any, user: AnyUser, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        editors = {group.pk for group in cleaned.get("editor_groups", [])}
        if not access.may_edit_with(self.user, editor_group_ids=editors):
            self.add_error("editor_groups", LOCKOUT)
        return cleaned

    def group_names(self, field: str) -> list[str]:
        return [group.name for group in self.cleaned_data[field]]


class CollectionForm(AccessForm):
    name = forms.CharField(max_length=200)
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )
    field_order = ["name", "description", "reader_groups", "editor_groups"]

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"]).strip()
        if Collection.objects.filter(name__iexact=name).exists():
            raise forms.ValidationError("A collection with this name exists.")
        return name
