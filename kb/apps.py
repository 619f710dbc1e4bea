from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class KbConfig(AppConfig):
    name = "kb"
    verbose_name = "Quarry knowledge base"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kb import checks  # noqa: F401 - registers the start-up checks
        from kb.api import schema  # noqa: F401 - the bearer scheme in the OpenAPI document
        from kb.observability import request_id  # connects the Celery signals

        request_id.install_record_factory()
        from kb.observability.metrics import register_collectors

        register_collectors()
        from kb.observability import leaked_tokens
        from kb.services.api_tokens import api_tokens_revoke_leaked

        leaked_tokens.revoke_with(api_tokens_revoke_leaked)

        # SQLite and the embedded stores need their folder before the first connection.
        Path(settings.KB_DATA_DIR).mkdir(parents=True, exist_ok=True)
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # whitenoise warns otherwise
