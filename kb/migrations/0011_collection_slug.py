"""Collection.slug, filled for existing collections from their names as
kb.services.collections.collection_slug does for new ones. The fill is a copy, not an import:
a migration must keep doing what it did when the service changes."""

from django.apps.registry import Apps
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.utils.text import slugify


def fill_slugs(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    collection = apps.get_model("kb", "Collection")
    taken: set[str] = set()
    for row in collection.objects.order_by("pk"):  # the oldest keeps the plain slug
        base = slugify(row.name) or "collection"
        slug, n = base, 2
        while slug in taken:
            slug, n = f"{base}-{n}", n + 1
        taken.add(slug)
        row.slug = slug
        row.save(update_fields=["slug"])


class Migration(migrations.Migration):
    dependencies = [
        ("kb", "0010_externalidentity"),
    ]

    operations = [
        migrations.AddField(
            model_name="collection",
            name="slug",
            # No index yet: the unique one below makes it (PostgreSQL would create its
            # `_like` index twice otherwise).
            field=models.SlugField(max_length=220, default="", db_index=False),
            preserve_default=False,
        ),
        migrations.RunPython(fill_slugs, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="collection",
            name="slug",
            field=models.SlugField(max_length=220, unique=True),
        ),
    ]
