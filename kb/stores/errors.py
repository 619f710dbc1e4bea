"""Errors every adapter raises in the same shape, so callers handle one type per failure."""


class StoreError(RuntimeError):
    """A store could not do what was asked (unreachable, misconfigured)."""


class StoreLockedError(StoreError):
    """An embedded store's folder is held by another process."""
