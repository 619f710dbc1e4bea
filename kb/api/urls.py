from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from kb.api import views

urlpatterns = [
    path("me", views.MeApi.as_view(), name="api-me"),
    path("collections", views.CollectionListApi.as_view(), name="api-collections"),
    path(
        "collections/<int:collection_id>/documents",
        views.CollectionDocumentsApi.as_view(),
        name="api-collection-documents",
    ),
    path("documents/<int:document_id>", views.DocumentApi.as_view(), name="api-document"),
    path("schema", SpectacularAPIView.as_view(), name="api-schema"),
]
