# Written by hand: Turn.unverified, where an answer's unsupported sentences stand in its
# (encrypted) content, as offsets. Turns saved before it keep an empty list: their claims were
# not kept, so a reopened answer from before shows no unverified marks.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("kb", "0014_document_script"),
    ]

    operations = [
        migrations.AddField(
            model_name="turn",
            name="unverified",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="Where the answer's sentences its sources do not support stand in its "
                "content: [start, end] character offsets (end exclusive), no text. The chat marks "
                "them unverified.",
            ),
        ),
    ]
