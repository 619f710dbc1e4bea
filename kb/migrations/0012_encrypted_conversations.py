"""Conversation titles and turns encrypted at rest (kb/conversation_crypto.py).

Existing rows are encrypted here, so no plain text is left behind and reading never has to guess
whether a value is a token: migrating needs the conversation key (KB_CONVERSATION_KEY, or the
install's generated key file for `make run`), the same one the site will run with. Reversing
decrypts them again with it.
"""

from collections.abc import Callable
from typing import Any

from django.db import migrations, models

import kb.conversation_crypto

BATCH = 500
ENCRYPTED = (("Conversation", "title"), ("Turn", "content"))


def _rewrite(apps: Any, change: Callable[[str], str]) -> None:
    """Here both columns are still plain TextFields: values go in and out as they are stored."""
    for model_name, field in ENCRYPTED:
        model = apps.get_model("kb", model_name)
        last = 0
        while batch := list(
            model.objects.filter(pk__gt=last).order_by("pk").values_list("pk", field)[:BATCH]
        ):
            rows = [model(pk=pk, **{field: change(value)}) for pk, value in batch]
            model.objects.bulk_update(rows, [field])
            last = batch[-1][0]


def encrypt_existing(apps: Any, schema_editor: Any) -> None:
    _rewrite(apps, lambda text: kb.conversation_crypto.keyring().encrypt(text))


def decrypt_existing(apps: Any, schema_editor: Any) -> None:
    _rewrite(apps, lambda token: kb.conversation_crypto.keyring().decrypt(token))


class Migration(migrations.Migration):
    dependencies = [
        ("kb", "0011_collection_slug"),
    ]

    operations = [
        # A token is longer than the 200 characters a title had.
        migrations.AlterField(
            model_name="conversation",
            name="title",
            field=models.TextField(help_text="The first question, shortened."),
        ),
        migrations.RunPython(encrypt_existing, decrypt_existing),
        migrations.AlterField(
            model_name="conversation",
            name="title",
            field=kb.conversation_crypto.EncryptedTextField(
                help_text="The first question, shortened; encrypted at rest."
            ),
        ),
        migrations.AlterField(
            model_name="turn",
            name="content",
            field=kb.conversation_crypto.EncryptedTextField(
                help_text="The question or answer; encrypted at rest."
            ),
        ),
    ]
