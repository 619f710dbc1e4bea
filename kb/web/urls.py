from django.urls import path

from kb.web import manage

urlpatterns = [
    path("", manage.collection_list, name="manage-collections"),
    path("collections/new", manage.collection_new, name="manage-collection-new"),
    path("collections/<int:collection_id>/", manage.collection_detail, name="manage-collection"),
    path(
        "collections/<int:collection_id>/access",
        manage.collection_access,
        name="manage-collection-access",
    ),
    path(
        "collections/<int:collection_id>/delete",
        manage.collection_delete_view,
        name="manage-collection-delete",
    ),
    path(
        "collections/<int:collection_id>/upload",
        manage.collection_upload,
        name="manage-collection-upload",
    ),
    path(
        "collections/<int:collection_id>/progress",
        manage.collection_progress,
        name="manage-collection-progress",
    ),
    path("documents/<int:document_id>/retry", manage.document_retry_view, name="manage-retry"),
    path("documents/<int:document_id>/delete", manage.document_delete_view, name="manage-delete"),
]
