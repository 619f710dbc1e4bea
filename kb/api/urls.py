from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from kb.api import views

urlpatterns = [
    path("me", views.MeApi.as_view(), name="api-me"),
    path("collections", views.CollectionListApi.as_view(), name="api-collections"),
    path("schema", SpectacularAPIView.as_view(), name="api-schema"),
]
