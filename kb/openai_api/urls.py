from django.urls import path

from kb.openai_api import views

urlpatterns = [
    path("models", views.ModelListApi.as_view(), name="openai-models"),
    path("models/<path:model>", views.ModelApi.as_view(), name="openai-model"),
    path("chat/completions", views.ChatCompletionsApi.as_view(), name="openai-chat-completions"),
]
