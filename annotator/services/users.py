"""Creating users and API tokens: shared by the CLI and the admin pages."""
from __future__ import annotations

import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import ROLES, ApiToken, User
from ..security import hash_password, new_token
from .messages import N_

MIN_PASSWORD_LENGTH = 8


class UserError(ValueError):
    """A username, role or password that cannot be used; the message (a messages.Text where
    a form shows it) says why."""


def check_username(username: str) -> str:
    """1-64 characters of any script, none of them whitespace or control characters."""
    if not 1 <= len(username) <= 64:
        raise UserError(N_("a username is 1 to 64 characters"))
    for char in username:
        if char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Zs"):
            raise UserError(N_("a username cannot contain whitespace or control characters "
                               "(found %(char)s)", char="U+" + format(ord(char), "04X")))
    return username


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return password


def create_user(session: Session, username: str, password: str, role: str = "annotator") -> User:
    """Add a user with a hashed password; refuses a taken username."""
    check_username(username)
    check_password(password)
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise UserError(f"a user named {username!r} already exists")
    user = User(username=username, password_hash=hash_password(password), role=role)
    session.add(user)
    session.commit()
    return user


def create_token(session: Session, user: User, name: str = "") -> str:
    """Issue an API token for the user; the caller shows it once, only its hash is kept."""
    token, token_hash = new_token()
    session.add(ApiToken(user_id=user.id, token_hash=token_hash, name=name))
    session.commit()
    return token
