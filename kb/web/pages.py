"""Chat pages beyond the empty chat: reopened conversations, their list and deletion, and the
source view a citation opens.

Conversations are their owner's alone and a passage needs read access to its document: anything
else answers 404, exactly like what does not exist.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from kb.models import Conversation
from kb.selectors.collections import collection_list_for_user
from kb.selectors.conversations import (
    conversation_exchanges,
    conversation_get_for_user,
    conversation_list_for_user,
)
from kb.selectors.sources import source_passage_for_user
from kb.services.conversations import conversation_delete
from kb.stores.errors import StoreError
from kb.web.http import HtmxHttpRequest


def chat_page(request: HtmxHttpRequest, conversation: Conversation | None = None) -> HttpResponse:
    """The chat: collection picker, conversation list, and the open conversation if any."""
    collections = collection_list_for_user(user=request.user).order_by("name")
    exchanges = (
        conversation_exchanges(user=request.user, conversation=conversation)
        if conversation is not None
        else []
    )
    context = {
        "collections": collections,
        "chat_stream_url": reverse("chat-stream"),
        "conversations": conversation_list_for_user(user=request.user),
        "conversation": conversation,
        "exchanges": exchanges,
    }
    return render(request, "chat/page.html", context)


@login_required
@require_GET
def conversation_detail(request: HtmxHttpRequest, conversation_id: int) -> HttpResponse:
    return chat_page(request, _own_conversation(request, conversation_id))


@login_required
@require_GET
def conversation_list(request: HtmxHttpRequest) -> HttpResponse:
    """The sidebar list alone (htmx refreshes it after an answer starts a conversation)."""
    if not request.htmx:
        return HttpResponseRedirect(reverse("home"))
    current = request.GET.get("current", "")
    context = {
        "conversations": conversation_list_for_user(user=request.user),
        "current_id": int(current) if current.isdigit() else None,
    }
    return render(request, "chat/_conversations.html", context)


@login_required
@require_POST
def conversation_delete_view(request: HtmxHttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _own_conversation(request, conversation_id)
    conversation_delete(conversation=conversation)
    open_url = reverse("chat-conversation", args=[conversation_id])
    if not request.htmx:
        return HttpResponseRedirect(reverse("home"))
    if request.htmx.current_url_abs_path == open_url:
        return HttpResponseClientRedirect(reverse("home"))  # the open one is gone
    return HttpResponse("")  # htmx swaps the list item for nothing


@login_required
@require_GET
def source_detail(request: HtmxHttpRequest, chunk_id: Any) -> HttpResponse:
    """A cited passage highlighted in its surrounding text, with title, page and section."""
    try:
        passage = source_passage_for_user(user=request.user, chunk_id=str(chunk_id))
    except StoreError:
        context = {"message": "The search index is unavailable right now. Try again shortly."}
        return render(request, "chat/unavailable.html", context, status=503)
    if passage is None:
        raise Http404
    return render(request, "chat/source.html", {"passage": passage})


def _own_conversation(request: HtmxHttpRequest, conversation_id: int) -> Conversation:
    conversation = conversation_get_for_user(user=request.user, conversation_id=conversation_id)
    if conversation is None:
        raise Http404
    return conversation
