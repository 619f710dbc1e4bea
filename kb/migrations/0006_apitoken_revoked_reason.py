# Written by hand for issue 11 ("the logs hold no secrets"): only these two fields.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("kb", "0005_injection_flags"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="revoked_reason",
            field=models.CharField(
                blank=True,
                choices=[
                    ("owner", "revoked by its owner or an administrator"),
                    ("leaked", "appeared in a logged question, answer or comment"),
                ],
                default="",
                max_length=20,
            ),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="revoked_notice_pending",
            field=models.BooleanField(
                default=False,
                help_text="The owner has not yet been told on a web page why it went.",
            ),
        ),
    ]
