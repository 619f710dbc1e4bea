"""What a caller sends to be answered and to rate an answer: one serializer set for the REST
API (kb/api/answers.py) and the chat page (kb/web/chat.py).

The two ask differently on purpose. The API searches every readable collection unless told
otherwise and takes top_k, stream and history; the chat page names at least one collection,
may continue one of the asker's conversations (its history comes from there, never from the
client) and words its errors for a person, who reads them as they are. A serializer's
docstring is its description in the OpenAPI document.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from kb.ids import IdField
from kb.models import FeedbackRating

COMMENT_CHARS = 2000
MAX_COLLECTIONS = 200


class HistoryTurnIn(serializers.Serializer[object]):
    role = serializers.ChoiceField(choices=["user", "assistant"])
    content = serializers.CharField(max_length=8000)


class _AskIn(serializers.Serializer[object]):
    """Limits come from settings at request time, so they can change without a release."""

    collections = serializers.ListField(
        child=IdField(),
        required=False,
        allow_empty=True,
        max_length=MAX_COLLECTIONS,
        help_text="Collection ids to search; default: every one you may read.",
    )
    top_k = serializers.IntegerField(required=False, min_value=1)

    def validate_top_k(self, value: int) -> int:
        if value > settings.KB_MAX_TOP_K:
            raise serializers.ValidationError(f"At most {settings.KB_MAX_TOP_K}.")
        return value

    def _text(self, value: str) -> str:
        return _limited(value, "At most {limit} characters.")


class QueryIn(_AskIn):
    question = serializers.CharField()
    stream = serializers.BooleanField(required=False, default=False)
    history = HistoryTurnIn(many=True, required=False, help_text="Earlier turns, oldest first.")

    def validate_question(self, value: str) -> str:
        return self._text(value)

    def validate_history(self, value: list[dict[str, str]]) -> list[dict[str, str]]:
        return value[-20:]


class SearchIn(_AskIn):
    query = serializers.CharField()
    translate = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Also search the query translated into the other languages of the documents "
        "you may read, when its own words find little (the model writes it: seconds on a CPU). "
        "Absent or null: the server's setting (KB_TRANSLATE_SEARCHES, on by default).",
    )

    def validate_query(self, value: str) -> str:
        return self._text(value)


class ChatQuestionIn(serializers.Serializer[object]):
    question = serializers.CharField(error_messages={"blank": "Type a question first."})
    collections = serializers.ListField(
        child=IdField(),
        allow_empty=False,
        max_length=MAX_COLLECTIONS,
        error_messages={
            "required": "Choose at least one collection to search.",
            "empty": "Choose at least one collection to search.",
        },
    )
    conversation = IdField(required=False)

    def validate_question(self, value: str) -> str:
        return _limited(value, "Questions are limited to {limit} characters.")


class FeedbackIn(serializers.Serializer[object]):
    query_id = IdField()
    rating = serializers.ChoiceField(choices=FeedbackRating.values)
    # Trimmed of surrounding whitespace (as every CharField is by default).
    comment = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=COMMENT_CHARS
    )


def _limited(value: str, too_long: str) -> str:
    value = value.strip()
    limit = settings.KB_MAX_QUESTION_CHARS
    if len(value) > limit:
        raise serializers.ValidationError(too_long.format(limit=limit))
    return value
