# Written by hand for issue 11 ("Uploaded text is data"): only these two fields.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("kb", "0004_conversation_turn"),
    ]

    operations = [
        migrations.AddField(
            model_name="document",
            name="flagged_chunks",
            field=models.PositiveIntegerField(
                default=0,
                help_text="Chunks whose text addresses the assistant or the reader with instructions (possible prompt injection), counted at indexing. For admins to review; it changes nothing else.",
            ),
        ),
        migrations.AddField(
            model_name="querylog",
            name="answer_check",
            field=models.CharField(
                blank=True,
                help_text="What the answer checks did: empty (served as written), 'blocked' (withheld: a link, address or credentials request its sources do not hold) or 'ungrounded' (served, marked: its citations do not support it).",
                max_length=20,
            ),
        ),
    ]
