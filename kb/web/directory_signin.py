"""Signing in with a directory password (KB_LDAP_*; listed in AUTHENTICATION_BACKENDS only when
KB_LDAP_SERVER_URI is set). django-auth-ldap binds as the person's entry and reads their groups;
the account itself goes through kb.services.identities like a single sign-on one: created at
the first sign-in, groups replaced by the directory's at every sign-in, never linked to an
existing account of the same name, refused once deactivated.

The sign-in page does not change, and django-axes, first among the backends, still counts and
throttles failures: a refusal here is a failed sign-in like a wrong password.
"""

from __future__ import annotations

import logging
from typing import Any

import ldap
from django.conf import settings
from django.contrib.auth.models import User
from django_auth_ldap.backend import LDAPBackend
from django_auth_ldap.config import LDAPSearch, LDAPSettings

from kb.directory import auth_ldap_settings
from kb.models import IdentitySource
from kb.services.identities import SignInRefused, SourcePerson, identity_sign_in

logger = logging.getLogger(__name__)


class DirectoryBackend(LDAPBackend):  # type: ignore[misc]  # django-auth-ldap is untyped
    _settings: LDAPSettings | None = None

    @property
    def settings(self) -> LDAPSettings:
        if self._settings is None:
            self._settings = auth_ldap_settings()
        return self._settings

    def get_or_build_user(self, username: str, ldap_user: Any) -> tuple[User, bool]:
        """Called once the directory accepted the password. `built` is False: the identity
        service has saved the account, django-auth-ldap has nothing left to do."""
        email = (ldap_user.attrs.get("mail") or [""])[0]
        person = SourcePerson(
            source=IdentitySource.LDAP,
            subject=entry_dn(ldap_user),
            username=username,
            email=email,
            groups=frozenset(name for name in ldap_user.group_names if name),
        )
        try:
            user = identity_sign_in(person=person, mapping=settings.KB_LDAP_GROUP_MAP)
        except SignInRefused as refused:
            # The reason names no one; the failure goes to axes like a wrong password.
            logger.info("Directory sign-in refused: %s", refused)
            raise ldap_user.AuthenticationFailed(str(refused)) from refused
        return user, False

    def get_user(self, user_id: int) -> User | None:
        """The signed-in session's user, unless deactivated since (django-auth-ldap's own
        get_user does not ask): a sync that deactivates someone ends their sessions too."""
        user: User | None = super().get_user(user_id)
        if user is None or not user.is_active:
            return None
        return user


def entry_dn(ldap_user: Any) -> str:
    """The person's DN in django-auth-ldap's normal form (the directory's, in lower case), as a
    user search reports it. With KB_LDAP_USER_DN_TEMPLATE its DN is the template filled with
    the name as typed (`uid=MIA,…`), which the directory accepts for `uid=mia,…`: matched as
    text, each spelling would be an account of its own, and a deactivated person would be
    back under another one. So the entry is read back; raises ldap.LDAPError (a failed
    sign-in) when it cannot be."""
    if not settings.KB_LDAP_USER_DN_TEMPLATE:
        return str(ldap_user.dn)
    found = LDAPSearch(ldap_user.dn, ldap.SCOPE_BASE, "(objectClass=*)", ["1.1"]).execute(
        ldap_user.connection
    )
    if not found:
        raise ldap.NO_SUCH_OBJECT({"desc": "the entry the user bound as cannot be read"})
    return str(found[0][0])
