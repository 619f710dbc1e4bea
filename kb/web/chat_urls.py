"""Chat, conversations, sources and analytics; mounted at the site root by kb/urls.py."""

from django.urls import path

from kb.web import analytics_page, chat, pages

urlpatterns = [
    path("chat/stream", chat.ChatStreamView.as_view(), name="chat-stream"),
    path("chat/feedback", chat.ChatFeedbackView.as_view(), name="chat-feedback"),
    path("conversations/", pages.conversation_list, name="chat-conversations"),
    path(
        "conversations/<int:conversation_id>",
        pages.conversation_detail,
        name="chat-conversation",
    ),
    path(
        "conversations/<int:conversation_id>/delete",
        pages.conversation_delete_view,
        name="chat-conversation-delete",
    ),
    path("sources/<uuid:chunk_id>", pages.source_detail, name="chat-source"),
    path("analytics/", analytics_page.analytics, name="analytics"),
]
