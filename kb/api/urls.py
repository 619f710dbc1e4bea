from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from kb.api import answers, views

urlpatterns = [
    path("me", views.MeApi.as_view(), name="api-me"),
    path("collections", views.CollectionListApi.as_view(), name="api-collections"),
    path("collections/<int:collection_id>", views.CollectionApi.as_view(), name="api-collection"),
    path(
        "collections/<int:collection_id>/documents",
        views.CollectionDocumentsApi.as_view(),
        name="api-collection-documents",
    ),
    path("documents/<int:document_id>", views.DocumentApi.as_view(), name="api-document"),
    path("query", answers.QueryApi.as_view(), name="api-query"),
    path("search", answers.SearchApi.as_view(), name="api-search"),
    path("feedback", answers.FeedbackApi.as_view(), name="api-feedback"),
    path("schema", SpectacularAPIView.as_view(), name="api-schema"),
]
