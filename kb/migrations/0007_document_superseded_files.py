# Written by hand for issue 11 ("files of replaced versions are deleted"): only this field.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("kb", "0006_apitoken_revoked_reason"),
    ]

    operations = [
        migrations.AddField(
            model_name="document",
            name="superseded_files",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="Files of replaced versions, as [version, stored name]: deleted once a "
                "later version is indexed (until then the indexed version stays searchable).",
            ),
        ),
    ]
