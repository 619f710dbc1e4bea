# Written by hand: Document.script. Documents indexed before it was recorded keep "" until they
# are indexed again (`kb_reindex --all`); for them, questions are translated into English
# only, as before.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("kb", "0013_document_embed_model"),
    ]

    operations = [
        migrations.AddField(
            model_name="document",
            name="script",
            field=models.CharField(
                blank=True,
                default="",
                help_text="The script most of the searchable version's text is written in "
                "(latin, han, cyrillic, other; empty: not recorded). Questions are also searched "
                "translated into the scripts of the documents their asker may read.",
                max_length=20,
            ),
        ),
    ]
