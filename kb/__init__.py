"""Quarry core: Django project, access policy, stores."""

import os

# Offline by design: no library may reach a model hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DO_NOT_TRACK", "true")

from kb.celery import app as celery_app

__all__ = ["celery_app"]
