from django.apps import AppConfig


class KbConfig(AppConfig):
    name = "kb"
    verbose_name = "Quarry knowledge base"
    default_auto_field = "django.db.models.BigAutoField"
