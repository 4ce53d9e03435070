"""The only module that reads or writes JWTs: issue, verify, revoke.

HTTP (``accounts.http_auth``) and WebSocket (``chat.middleware``) both call
:func:`verify`, so the two can never disagree on who is signed in.
"""

import hashlib
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypedDict

import jwt
from django.conf import settings
from django.db import transaction
from django.http.cookie import parse_cookie
from django.utils import timezone

from accounts.models import RevokedToken, SessionEnd, User, end_sessions
from accounts.userlookup import user_and_revocation

COOKIE_NAME = "token"
# Header fields that name or carry a key. Our tokens never have them, and a
# verifier that followed one (a URL to fetch, a key id to look up) would let
# the token choose its own key; a token that has one is refused outright.
KEY_REFERENCE_HEADERS = frozenset(
    {"kid", "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256"}
)
# Longer than any token we issue by two orders of magnitude; refusing larger
# ones before decoding keeps hostile cookies from costing CPU.
MAX_TOKEN_BYTES = 8192
# Instants a datetime can hold (year 9999); a signed `exp` of 1e20 is a
# refusal, not an OverflowError.
MAX_TIMESTAMP = 253_402_300_799
MAX_ACCOUNT_ID = 2**63 - 1


class Claims(TypedDict, total=False):
    user: str
    uid: int
    name: str
    rol: str
    iat: float
    exp: int
    jti: str


class InvalidToken(Exception):
    """The token is not one this site accepts; the message says why (for logs)."""


@dataclass(frozen=True)
class VerifiedToken:
    """A token that passed every check, with the user it stands for.

    ``account_id`` is the token's ``uid`` claim: None for tokens minted by
    the original app.
    """

    user: User
    token_id: str
    issued_at: float
    expires_at: datetime
    account_id: int | None = None


@dataclass(frozen=True)
class IssuedToken:
    token: str
    token_id: str
    expires_at: datetime


def issue(user: User, *, now: datetime | None = None) -> IssuedToken:
    """Sign a new token for ``user`` with the configured lifetime."""
    now = now or timezone.now()
    expires_at = now + timedelta(seconds=settings.JWT_LIFETIME_SECONDS)
    token_id = uuid.uuid4().hex
    claims: Claims = {
        "user": user.username,
        # The account, not the name: a renamed or deleted account's tokens
        # must never sign in whoever holds the name next.
        "uid": user.pk,
        "name": user.name,
        "rol": user.role,
        # Sub-second precision: a token issued right after "sign out
        # everywhere" must not fall into the same whole second and be refused.
        "iat": now.timestamp(),
        "exp": int(expires_at.timestamp()),
        "jti": token_id,
    }
    token = jwt.encode(claims, settings.JWT_SECRET, algorithm=settings.JWT_ALGORITHM)
    return IssuedToken(
        token=token,
        token_id=token_id,
        expires_at=datetime.fromtimestamp(claims["exp"], tz=UTC),
    )


def token_from_cookie_header(header: str) -> str | None:
    """The ``token`` cookie's value from a raw Cookie header; None when absent or empty.

    Raises :class:`InvalidToken` when ``token`` is sent more than once: which
    one a server takes differs, and a second cookie is how a sibling
    subdomain would plant its own token (cookie tossing).
    """
    # parse_cookie keeps only the last of repeated names, so each ";" chunk
    # is parsed on its own, exactly as parse_cookie splits them, to see repeats.
    values = [
        value
        for chunk in header.split(";")
        for name, value in parse_cookie(chunk).items()
        if name == COOKIE_NAME
    ]
    if len(values) > 1:
        raise InvalidToken("more than one token cookie")
    return values[0] if values and values[0] else None


def _token_id(claims: Claims, token: str) -> str:
    # Tokens minted by the original app carry no jti; their signature, which
    # is unique per token, stands in so they can be signed out one by one.
    jti = claims.get("jti")
    if isinstance(jti, str) and 0 < len(jti) <= 64:
        return jti
    signature = token.rsplit(".", 1)[-1]
    return "sig:" + hashlib.sha256(signature.encode()).hexdigest()[:64]


def decode(token: str) -> tuple[Claims, str]:
    """Check signature, algorithm and dates; return the claims and the token id.

    Raises :class:`InvalidToken`. No database access: this is the part of
    verification that can be done anywhere.
    """
    if not token or len(token) > MAX_TOKEN_BYTES:
        raise InvalidToken("token empty or too large")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as err:
        raise InvalidToken(f"{type(err).__name__}: {err}") from err
    if KEY_REFERENCE_HEADERS & header.keys():
        raise InvalidToken("token header names a key")
    try:
        # The algorithm list is pinned from settings, never read from the
        # token header: that is what refuses `alg: none` and HS/RS confusion.
        claims = jwt.decode(
            token,
            settings.JWT_SECRET,
            algorithms=[settings.JWT_ALGORITHM],
            options={"require": ["exp", "iat", "user"]},
        )
    except jwt.PyJWTError as err:
        raise InvalidToken(f"{type(err).__name__}: {err}") from err
    _check_claim_types(claims)
    return claims, _token_id(claims, token)


def _is_instant(value) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= MAX_TIMESTAMP
    )


def _check_claim_types(claims: dict) -> None:
    """Raise :class:`InvalidToken` for claims of the wrong type or range.

    A validly signed token with ``exp`` as 1e20 or ``user`` as a number is a
    failed verification (PROTOCOL.md 1), never a server error further on.
    """
    uid = claims.get("uid")
    if (
        not isinstance(claims.get("user"), str)
        or not _is_instant(claims.get("iat"))
        or not _is_instant(claims.get("exp"))
        or (uid is not None and (isinstance(uid, bool) or not isinstance(uid, int)))
        or (isinstance(uid, int) and not 0 < uid <= MAX_ACCOUNT_ID)
    ):
        raise InvalidToken("malformed claims")


def verify(token: str) -> VerifiedToken:
    """Return the verified token with its user, or raise :class:`InvalidToken`.

    Beyond :func:`decode`: the user exists and is active, the token was not
    signed out, and it was issued after the user's last "sign out everywhere"
    (or password, role or active change). Role and name come from the
    database, never from the claims. One query.
    """
    claims, token_id = decode(token)
    return _checked(
        username=claims["user"],
        account_id=claims.get("uid"),
        token_id=token_id,
        issued_at=float(claims["iat"]),
        expires_at=datetime.fromtimestamp(claims["exp"], tz=UTC),
    )


def reverify(verified: VerifiedToken) -> VerifiedToken:
    """:func:`verify` again for a token already decoded: the database checks only.

    For a socket that must look once more after joining its groups, without
    keeping the token's text for it.
    """
    return _checked(
        username=verified.user.username,
        account_id=verified.account_id,
        token_id=verified.token_id,
        issued_at=verified.issued_at,
        expires_at=verified.expires_at,
    )


def _checked(
    *,
    username: str,
    account_id: int | None,
    token_id: str,
    issued_at: float,
    expires_at: datetime,
) -> VerifiedToken:
    found = user_and_revocation(username, token_id)
    if found is None:
        raise InvalidToken("unknown user")
    user, revoked = found
    if account_id is not None and account_id != user.pk:
        raise InvalidToken("token of another account")
    # A token issued before the name's current holder was created belonged to
    # someone else. The original app's tokens name no account and their
    # `iat` is in whole seconds: compare whole seconds. A rename moves
    # tokens_valid_after, checked below.
    created = user.date_joined.timestamp()
    if (
        math.floor(issued_at) < math.floor(created)
        if account_id is None
        else issued_at < created
    ):
        raise InvalidToken("token issued before the account holding the name")
    if not user.is_active:
        raise InvalidToken("user deactivated")
    if revoked:
        raise InvalidToken("token signed out")
    valid_after = user.tokens_valid_after
    if valid_after is not None and issued_at < valid_after.timestamp():
        raise InvalidToken("token issued before the user's sessions were ended")
    return VerifiedToken(
        user=user,
        token_id=token_id,
        issued_at=issued_at,
        expires_at=expires_at,
        account_id=account_id,
    )


def revoke(verified: VerifiedToken) -> None:
    """Sign out one token: refused until it expires; its sockets are closed."""
    with transaction.atomic():
        RevokedToken.objects.get_or_create(
            token_id=verified.token_id,
            defaults={"user": verified.user, "expires_at": verified.expires_at},
        )
        end_sessions(verified.user, token_id=verified.token_id)


def revoke_all(user: User) -> None:
    """Sign out every token of ``user`` issued until now, and close their sockets."""
    with transaction.atomic():
        user.tokens_valid_after = timezone.now()
        user.save(update_fields=["tokens_valid_after"])
        end_sessions(user, issued_before=user.tokens_valid_after.timestamp())


def purge_expired(*, now: datetime | None = None) -> int:
    """Delete revocation records of tokens that have expired anyway; return how many.

    The journal of ended sessions goes too once older than a token's lifetime:
    by then every socket it could close has expired by itself.
    """
    now = now or timezone.now()
    deleted, _ = RevokedToken.objects.filter(expires_at__lt=now).delete()
    SessionEnd.objects.filter(
        created_at__lt=now - timedelta(seconds=settings.JWT_LIFETIME_SECONDS)
    ).delete()
    return deleted
