from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from kb import views
from kb.observability import views as ops
from kb.web import oidc

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics, name="metrics"),
    path(
        "documents/<int:document_id>/download",
        views.document_download,
        name="document-download",
    ),
    path("manage/", include("kb.web.urls")),
    path("", include("kb.web.chat_urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/oidc/login/", oidc.oidc_login, name="oidc-login"),
    path("accounts/oidc/callback/", oidc.oidc_callback, name="oidc-callback"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("kb.api.urls")),
    path("v1/", include("kb.openai_api.urls")),  # OpenAI-compatible: clients expect /v1
]

handler400 = views.bad_request
handler404 = views.page_not_found
handler500 = views.server_error
