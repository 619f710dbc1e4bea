"""The company's LDAP directory (OpenLDAP, Active Directory), as the KB_LDAP_* settings describe
it: django-auth-ldap's configuration for the sign-in backend, and reads of one person's entry
and groups by DN for the directory sync. Knows no Quarry accounts: kb/web/directory_signin.py
and kb/services/directory.py decide what a directory answer does to them.

One configuration serves both, so a sign-in and a sync read the same groups the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import ldap
from django.conf import settings
from django_auth_ldap.config import (
    ActiveDirectoryGroupType,
    GroupOfNamesType,
    GroupOfUniqueNamesType,
    LDAPGroupType,
    LDAPSearch,
    LDAPSettings,
    NestedActiveDirectoryGroupType,
    PosixGroupType,
)

# KB_LDAP_GROUP_TYPE: how groups name their members, and which entries are groups.
GROUP_TYPES: dict[str, tuple[type[LDAPGroupType], str]] = {
    "groupofnames": (GroupOfNamesType, "(objectClass=groupOfNames)"),
    "groupofuniquenames": (GroupOfUniqueNamesType, "(objectClass=groupOfUniqueNames)"),
    "posixgroup": (PosixGroupType, "(objectClass=posixGroup)"),
    "activedirectory": (ActiveDirectoryGroupType, "(objectClass=group)"),
    "nestedactivedirectory": (NestedActiveDirectoryGroupType, "(objectClass=group)"),
}


class DirectoryUnavailable(Exception):
    """The directory could not be asked (down, refused the search bind, or its search bases
    cannot be read): nothing can be concluded about anyone."""


@dataclass(frozen=True)
class DirectoryPerson:
    """A person's entry as the directory holds it now."""

    dn: str  # normalised (lower case), as django-auth-ldap reports it at sign-in
    email: str
    groups: frozenset[str]  # group names at the directory, before KB_LDAP_GROUP_MAP


def directory_enabled() -> bool:
    return bool(settings.KB_LDAP_SERVER_URI)


def configuration_problems() -> list[str]:
    """What is missing or malformed in the KB_LDAP_* settings ([] when LDAP is off)."""
    if not directory_enabled():
        return []
    problems = []
    if not settings.KB_LDAP_USER_DN_TEMPLATE and not settings.KB_LDAP_USER_SEARCH_BASE:
        problems.append("set KB_LDAP_USER_SEARCH_BASE (or KB_LDAP_USER_DN_TEMPLATE)")
    for name in ("KB_LDAP_USER_FILTER", "KB_LDAP_USER_DN_TEMPLATE"):
        value = getattr(settings, name)
        if value and "%(user)s" not in value:
            problems.append(f"{name} must contain %(user)s where the user name goes")
    if not settings.KB_LDAP_GROUP_SEARCH_BASE:
        problems.append("set KB_LDAP_GROUP_SEARCH_BASE: groups are mirrored from there")
    return problems


def auth_ldap_settings() -> LDAPSettings:
    """django-auth-ldap's settings (its AUTH_LDAP_* names) built from ours. The backend only
    binds and reads: it creates no user, copies no attribute and mirrors no group itself; the
    identity service does that, with the same promises as single sign-on."""
    user_search = None
    if not settings.KB_LDAP_USER_DN_TEMPLATE:
        user_search = LDAPSearch(
            settings.KB_LDAP_USER_SEARCH_BASE, ldap.SCOPE_SUBTREE, settings.KB_LDAP_USER_FILTER
        )
    group_type, group_filter = _group_type()
    return LDAPSettings(
        prefix="KB_LDAP_UNUSED_",  # nothing is read from Django settings by AUTH_LDAP_* names
        defaults={
            "SERVER_URI": settings.KB_LDAP_SERVER_URI,
            "START_TLS": settings.KB_LDAP_START_TLS,
            "CONNECTION_OPTIONS": connection_options(),
            "BIND_DN": settings.KB_LDAP_BIND_DN,
            "BIND_PASSWORD": settings.KB_LDAP_BIND_PASSWORD,
            "USER_SEARCH": user_search,
            "USER_DN_TEMPLATE": settings.KB_LDAP_USER_DN_TEMPLATE or None,
            "GROUP_SEARCH": LDAPSearch(
                settings.KB_LDAP_GROUP_SEARCH_BASE, ldap.SCOPE_SUBTREE, group_filter
            ),
            "GROUP_TYPE": group_type,
            "ALWAYS_UPDATE_USER": False,
            "MIRROR_GROUPS": None,
            "PERMIT_EMPTY_PASSWORD": False,  # an empty password is an anonymous bind: never
            "CACHE_TIMEOUT": 0,
        },
    )


def connection_options() -> dict[int, Any]:
    """Timeouts (a sign-in or sync never hangs on a dead server), no referral chasing (Active
    Directory's referrals need a bind of their own) and the CA for TLS, if one is named."""
    timeout = settings.KB_LDAP_TIMEOUT_SECONDS
    options: dict[int, Any] = {
        ldap.OPT_NETWORK_TIMEOUT: timeout,
        ldap.OPT_TIMEOUT: timeout,
        ldap.OPT_REFERRALS: 0,
        ldap.OPT_PROTOCOL_VERSION: 3,
    }
    if settings.KB_LDAP_CA_FILE:
        options[ldap.OPT_X_TLS_REQUIRE_CERT] = ldap.OPT_X_TLS_DEMAND
        options[ldap.OPT_X_TLS_CACERTFILE] = settings.KB_LDAP_CA_FILE
        options[ldap.OPT_X_TLS_NEWCTX] = 0  # last: applies the TLS options above
    return options


class Directory:
    """A connection bound with the search bind, reading people by DN."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._config = auth_ldap_settings()

    def person(self, *, dn: str) -> DirectoryPerson | None:
        """The entry at `dn` with its groups, or None when there is no such entry or it no longer
        matches KB_LDAP_USER_FILTER (an Active Directory filter that leaves out disabled
        accounts thus makes them gone too)."""
        filterstr = "(objectClass=*)"
        if not settings.KB_LDAP_USER_DN_TEMPLATE:
            filterstr = settings.KB_LDAP_USER_FILTER % {"user": "*"}
        try:
            found = LDAPSearch(dn, ldap.SCOPE_BASE, filterstr).execute(self._connection)
            if not found:
                return None
            entry_dn, attrs = found[0]
            infos = self._config.GROUP_TYPE.user_groups(
                _Member(entry_dn, attrs, self._connection), self._config.GROUP_SEARCH
            )
        except ldap.NO_SUCH_OBJECT:
            return None
        except ldap.LDAPError as error:
            raise DirectoryUnavailable(describe(error)) from error
        names = {self._config.GROUP_TYPE.group_name_from_info(info) for info in infos}
        email = (attrs.get("mail") or [""])[0]
        return DirectoryPerson(
            dn=entry_dn, email=email, groups=frozenset(name for name in names if name)
        )

    def require_readable(self) -> None:
        """Raises DirectoryUnavailable unless the search bases can be read: a search bind without
        rights sees no one, and must not make everyone look gone."""
        bases = [settings.KB_LDAP_GROUP_SEARCH_BASE]
        if not settings.KB_LDAP_USER_DN_TEMPLATE:
            bases.append(settings.KB_LDAP_USER_SEARCH_BASE)
        for base in bases:
            try:
                found = self._connection.search_s(base, ldap.SCOPE_BASE, "(objectClass=*)", ["1.1"])
            except ldap.LDAPError as error:
                found = []
                if not isinstance(error, ldap.NO_SUCH_OBJECT):
                    raise DirectoryUnavailable(describe(error)) from error
            if not found:
                raise DirectoryUnavailable(f"the search bind cannot read {base}")


@contextmanager
def directory_connection() -> Iterator[Directory]:
    """The directory, bound with KB_LDAP_BIND_DN; DirectoryUnavailable when that fails."""
    config = auth_ldap_settings()
    step = "connecting"
    try:
        connection = ldap.initialize(config.SERVER_URI, bytes_mode=False)
        for option, value in config.CONNECTION_OPTIONS.items():
            connection.set_option(option, value)
        if config.START_TLS:
            step = "StartTLS (is KB_LDAP_CA_FILE the CA of the directory's certificate?)"
            connection.start_tls_s()
        step = "the search bind (KB_LDAP_BIND_DN)"
        connection.simple_bind_s(config.BIND_DN, config.BIND_PASSWORD)
    except ldap.SERVER_DOWN as error:
        raise DirectoryUnavailable(f"{config.SERVER_URI}: {describe(error)}") from error
    except ldap.LDAPError as error:
        raise DirectoryUnavailable(f"{step}: {describe(error)}") from error
    try:
        yield Directory(connection)
    finally:
        with suppress(ldap.LDAPError):  # a connection that broke has nothing left to close
            connection.unbind_s()


def describe(error: ldap.LDAPError) -> str:
    """python-ldap's error as one line: its description and the server's message."""
    details = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
    parts = [str(details.get("desc", type(error).__name__)), str(details.get("info", ""))]
    return ": ".join(part for part in parts if part)


@dataclass(frozen=True)
class _Member:
    """What django-auth-ldap's group types read of a user (LDAPGroupType.user_groups)."""

    dn: str
    attrs: dict[str, list[str]]
    connection: Any


def _group_type() -> tuple[LDAPGroupType, str]:
    kind, group_filter = GROUP_TYPES[settings.KB_LDAP_GROUP_TYPE]
    return kind(), group_filter
