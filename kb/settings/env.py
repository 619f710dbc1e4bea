"""The one place that reads the environment. Every variable is listed in README.md.

Settings modules call these helpers; no other module reads os.environ for configuration.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_int(name: str, default: int) -> int:
    raw = env_str(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def env_float(name: str, default: float) -> float:
    raw = env_str(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None


def env_weights(name: str, default: dict[str, float]) -> dict[str, float]:
    """`dense=1,sparse=1,graph=0.5`: names not given keep their default weight."""
    weights = dict(default)
    for item in env_list(name, []):
        key, sep, value = item.partition("=")
        try:
            weights[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or key.strip() not in default:
            raise ImproperlyConfigured(
                f"{name} takes name=weight pairs for {', '.join(default)}, got {item!r}"
            )
    return weights


def env_mapping(name: str) -> dict[str, str] | None:
    """`eng-all=engineering,hr-staff=hr`: names at an identity source to Quarry names. Unset is
    None (no mapping), which is not the same as a mapping that names nothing."""
    if not env_str(name):
        return None
    mapping: dict[str, str] = {}
    for item in env_list(name, []):
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not key or not value:
            raise ImproperlyConfigured(
                f"{name} takes source=quarry pairs separated by commas, got {item!r}"
            )
        mapping[key] = value
    return mapping


def env_bool(name: str, default: bool) -> bool:
    raw = env_str(name).lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default).lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = env_str(name)
    if not raw:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_path(name: str, default: Path) -> Path:
    raw = env_str(name)
    return Path(raw).expanduser().resolve() if raw else default.resolve()


def env_required(name: str) -> str:
    """For production: a missing secret stops start-up instead of running insecurely."""
    value = env_str(name)
    if not value:
        raise ImproperlyConfigured(
            f"{name} is not set. Production settings refuse to start without it; "
            "see the configuration table in README.md."
        )
    return value
