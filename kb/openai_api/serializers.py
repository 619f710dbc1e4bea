"""A chat completion request as OpenAI clients send it. Only `model`, `messages` and `stream`
mean something here; sampling options (temperature, max_tokens...) are accepted and ignored:
Quarry's answer path sets its own, and a front-end should not fail because it sends them."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

ROLES = ["system", "developer", "user", "assistant"]
MAX_MESSAGES = 100  # kb.answer_serializers keeps the last 20 turns of these


class ContentField(serializers.Field[str, Any, str, Any]):
    """A message's text: a string, or a list of `{"type": "text", "text": ...}` parts (how
    some front-ends send it); images and other parts are refused rather than dropped unseen."""

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, str):
            return data
        if isinstance(data, list) and all(_is_text_part(part) for part in data):
            return "\n".join(part["text"] for part in data)
        raise serializers.ValidationError("Only text content is supported.")

    def to_representation(self, value: str) -> str:
        return value


class MessageIn(serializers.Serializer[object]):
    role = serializers.ChoiceField(choices=ROLES)
    content = ContentField()


class ChatCompletionIn(serializers.Serializer[object]):
    model = serializers.CharField(max_length=300)
    messages = serializers.ListField(child=MessageIn(), allow_empty=False, max_length=MAX_MESSAGES)
    stream = serializers.BooleanField(required=False, default=False)


def _is_text_part(part: Any) -> bool:
    return (
        isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
    )
