"""accounts.tokens: what verify accepts and refuses, and how tokens are revoked."""

import base64
import json
import time
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.utils import timezone

from accounts import tokens
from accounts.models import RevokedToken, Role, SessionEnd, User
from tests.conftest import token_for

OTHER_SECRET = "another-secret-that-this-site-never-signs-with-" + "z" * 40


def now_claims(user: User, **overrides) -> dict:
    """Claims of a currently valid token for ``user``, as issue() would write them."""
    now = int(time.time())
    claims = {
        "user": user.username,
        "name": user.name,
        "rol": user.role,
        "iat": now,
        "exp": now + 600,
        "jti": "test-jti",
    }
    claims.update(overrides)
    return claims


def sign(claims: dict, *, key: str | None = None, algorithm: str = "HS256") -> str:
    """A token signed with the site's secret unless another key is given."""
    return jwt.encode(claims, key or settings.JWT_SECRET, algorithm=algorithm)


def b64(data: dict) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def original_app_token(user: User, *, iat: int) -> str:
    """A token as the original app minted it: int iat, no jti, HS256."""
    claims = {
        "user": user.username,
        "name": user.name,
        "rol": user.role,
        "iat": iat,
        "exp": iat + 3600,
    }
    return jwt.encode(claims, settings.JWT_SECRET, algorithm="HS256")


# Round trip and what decode refuses -------------------------------------------


def test_an_issued_token_verifies_as_its_user(user):
    issued = tokens.issue(user)

    verified = tokens.verify(issued.token)

    assert verified.user.pk == user.pk
    assert verified.token_id == issued.token_id
    assert verified.expires_at == issued.expires_at


def test_the_verified_user_is_the_instance_the_orm_would_load(user):
    user.display_name = "Ana Pérez"
    user.tokens_valid_after = timezone.now() - timedelta(hours=1)
    user.save()
    verified = tokens.verify(token_for(user)).user
    expected = User.objects.get(pk=user.pk)
    for field in User._meta.concrete_fields:
        got, want = getattr(verified, field.attname), getattr(expected, field.attname)
        assert got == want and type(got) is type(want), field.name
    # It tracks its loaded state like any loaded user: a role change through
    # it still ends the user's sessions.
    assert not verified.revoking_change()
    verified.role = Role.ADMIN
    assert verified.revoking_change()


def test_an_issued_token_carries_the_protocol_claims(user):
    issued = tokens.issue(user)

    claims = jwt.decode(issued.token, settings.JWT_SECRET, algorithms=["HS256"])

    assert set(claims) == {"user", "uid", "name", "rol", "iat", "exp", "jti"}
    assert claims["user"] == "ana"
    assert claims["uid"] == user.pk
    assert claims["name"] == "Ana García"
    assert claims["rol"] == "user"
    assert claims["exp"] - claims["iat"] == pytest.approx(
        settings.JWT_LIFETIME_SECONDS, abs=1
    )


def test_a_token_with_alg_none_is_refused(user):
    header = b64({"alg": "none", "typ": "JWT"})
    unsigned = f"{header}.{b64(now_claims(user))}."

    with pytest.raises(tokens.InvalidToken, match="InvalidAlgorithmError"):
        tokens.verify(unsigned)


def test_a_token_signed_with_another_secret_is_refused(user):
    forged = sign(now_claims(user), key=OTHER_SECRET)

    with pytest.raises(tokens.InvalidToken, match="InvalidSignatureError"):
        tokens.verify(forged)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("algorithm", ["HS512", "HS384"])
def test_a_token_signed_with_an_algorithm_not_configured_is_refused(user, algorithm):
    token = sign(now_claims(user), algorithm=algorithm)

    with pytest.raises(tokens.InvalidToken, match="InvalidAlgorithmError"):
        tokens.verify(token)


def test_an_expired_token_is_refused(user):
    long_ago = timezone.now() - timedelta(seconds=settings.JWT_LIFETIME_SECONDS + 5)
    expired = tokens.issue(user, now=long_ago).token

    with pytest.raises(tokens.InvalidToken, match="ExpiredSignatureError"):
        tokens.verify(expired)


def test_a_token_without_exp_is_refused(user):
    claims = now_claims(user)
    del claims["exp"]

    with pytest.raises(tokens.InvalidToken, match='missing the "exp" claim'):
        tokens.verify(sign(claims))


def test_a_token_without_iat_is_refused(user):
    claims = now_claims(user)
    del claims["iat"]

    with pytest.raises(tokens.InvalidToken, match='missing the "iat" claim'):
        tokens.verify(sign(claims))


def test_a_token_issued_in_the_future_is_refused(user):
    later = int(time.time()) + 3600
    token = sign(now_claims(user, iat=later, exp=later + 600))

    with pytest.raises(tokens.InvalidToken, match="ImmatureSignatureError"):
        tokens.verify(token)


def test_a_token_over_8_kb_is_refused_before_decoding(user):
    token = sign(now_claims(user, padding="x" * tokens.MAX_TOKEN_BYTES))
    assert len(token) > 8192

    with pytest.raises(tokens.InvalidToken, match="too large"):
        tokens.verify(token)


# The user behind the token ----------------------------------------------------


def test_a_token_of_a_deleted_user_is_refused(user):
    token = token_for(user)
    user.delete()

    with pytest.raises(tokens.InvalidToken, match="unknown user"):
        tokens.verify(token)


def test_a_token_of_a_deactivated_user_is_refused(user):
    token = token_for(user)
    # update() bypasses User.save: this checks is_active itself, not the
    # tokens_valid_after that save() also moves.
    User.objects.filter(pk=user.pk).update(is_active=False)

    with pytest.raises(tokens.InvalidToken, match="deactivated"):
        tokens.verify(token)


def test_role_comes_from_the_database_not_from_the_rol_claim(user):
    token = sign(now_claims(user, rol="admin", name="Impostor"))

    verified = tokens.verify(token)

    assert verified.user.role == Role.USER
    assert not verified.user.is_support_admin
    assert verified.user.name == "Ana García"


# Revocation -------------------------------------------------------------------


def test_a_revoked_token_is_refused(user):
    token = token_for(user)
    tokens.revoke(tokens.verify(token))

    with pytest.raises(tokens.InvalidToken, match="signed out"):
        tokens.verify(token)


def test_revoking_one_token_leaves_the_users_other_tokens_valid(user):
    revoked, kept = token_for(user), token_for(user)
    tokens.revoke(tokens.verify(revoked))

    assert tokens.verify(kept).user.pk == user.pk


def test_a_token_issued_before_sign_out_everywhere_is_refused(user):
    token = token_for(user)
    tokens.revoke_all(user)

    with pytest.raises(tokens.InvalidToken, match="issued before"):
        tokens.verify(token)


def test_a_token_issued_right_after_sign_out_everywhere_is_accepted(user):
    tokens.revoke_all(user)
    token = token_for(user)

    assert tokens.verify(token).user.pk == user.pk


def test_sign_out_everywhere_splits_tokens_within_the_same_second(user):
    tokens.revoke_all(user)
    cut = user.tokens_valid_after
    before = tokens.issue(user, now=cut - timedelta(microseconds=1)).token
    at_the_cut = tokens.issue(user, now=cut).token

    with pytest.raises(tokens.InvalidToken, match="issued before"):
        tokens.verify(before)
    assert tokens.verify(at_the_cut).user.pk == user.pk


def test_a_password_change_refuses_older_tokens(user):
    token = token_for(user)
    user.set_password("a brand new passphrase 42")
    user.save()

    with pytest.raises(tokens.InvalidToken, match="issued before"):
        tokens.verify(token)


def test_a_role_change_refuses_older_tokens(user):
    token = token_for(user)
    user.role = Role.ADMIN
    user.save()

    with pytest.raises(tokens.InvalidToken, match="issued before"):
        tokens.verify(token)


def test_deactivation_refuses_older_tokens_even_after_reactivation(user):
    token = token_for(user)
    user.is_active = False
    user.save()
    User.objects.filter(pk=user.pk).update(is_active=True)

    with pytest.raises(tokens.InvalidToken, match="issued before"):
        tokens.verify(token)


def test_saving_other_fields_does_not_refuse_older_tokens(user):
    token = token_for(user)
    user.display_name = "Ana G."
    user.email = "ana@example.com"
    user.save()

    assert tokens.verify(token).user.display_name == "Ana G."


def test_a_revoking_change_saved_with_update_fields_moves_the_cut_too(user):
    token = token_for(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    user.refresh_from_db()

    assert user.tokens_valid_after is not None
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(token)


# Tokens minted by the original app ---------------------------------------------


@pytest.fixture
def imported_user(user) -> User:
    """An account that existed before the original app minted its tokens."""
    User.objects.filter(pk=user.pk).update(
        date_joined=timezone.now() - timedelta(days=30)
    )
    user.refresh_from_db()
    return user


def test_an_original_app_token_without_jti_is_accepted(imported_user):
    token = original_app_token(imported_user, iat=int(time.time()) - 60)

    verified = tokens.verify(token)

    assert verified.user.pk == imported_user.pk
    assert verified.token_id.startswith("sig:")


def test_original_app_tokens_can_be_revoked_one_by_one(imported_user):
    user = imported_user
    first = original_app_token(user, iat=int(time.time()) - 60)
    second = original_app_token(user, iat=int(time.time()) - 30)

    tokens.revoke(tokens.verify(first))

    with pytest.raises(tokens.InvalidToken, match="signed out"):
        tokens.verify(first)
    assert tokens.verify(second).user.pk == user.pk


def test_an_original_app_token_from_before_the_account_was_created_is_refused(user):
    # Minted for an earlier holder of the name, who has since gone.
    token = original_app_token(user, iat=int(user.date_joined.timestamp()) - 1)

    with pytest.raises(tokens.InvalidToken, match="before the account"):
        tokens.verify(token)


def test_an_original_app_token_from_the_second_of_creation_is_accepted(user):
    # The original's iat is in whole seconds: the same second is not "before".
    token = original_app_token(user, iat=int(user.date_joined.timestamp()))

    assert tokens.verify(token).user.pk == user.pk


# A session belongs to an account, not to a name --------------------------------


def test_a_token_of_a_deleted_account_does_not_sign_in_the_next_holder_of_the_name(
    make_user,
):
    first = make_user("racerx")
    token = tokens.issue(first).token
    first.delete()
    make_user("racerx")

    with pytest.raises(tokens.InvalidToken, match="another account"):
        tokens.verify(token)


def test_a_token_of_a_renamed_account_does_not_sign_in_the_next_holder(make_user):
    first = make_user("racerx")
    token = tokens.issue(first).token
    first.username = "speedy"
    first.save()
    make_user("racerx")

    with pytest.raises(tokens.InvalidToken, match="another account"):
        tokens.verify(token)


def test_renaming_an_account_refuses_its_older_tokens(user):
    token = tokens.issue(user).token
    user.username = "ana2"
    user.save()

    with pytest.raises(tokens.InvalidToken):
        tokens.verify(token)
    assert tokens.verify(tokens.issue(user).token).user.username == "ana2"


def test_renaming_records_the_old_name_in_the_journal_of_ended_sessions(user):
    user.username = "ana2"
    user.save()

    [entry] = SessionEnd.objects.filter(user_id=user.pk)
    assert (entry.user_id, entry.username, entry.token_id) == (user.pk, "ana", None)
    assert entry.issued_before == user.tokens_valid_after.timestamp()


def test_deleting_an_account_records_it_in_the_journal_of_ended_sessions(user):
    user_id = user.pk
    user.delete()

    [entry] = SessionEnd.objects.filter(user_id=user_id)
    assert (entry.user_id, entry.username, entry.token_id) == (user_id, "ana", None)
    assert entry.issued_before == pytest.approx(time.time(), abs=5)


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": "tomorrow"},
        {"exp": 1e20},
        {"exp": float("nan")},
        {"iat": "yesterday"},
        {"iat": -1e20},
        {"user": 42},
        {"uid": "1"},
        {"uid": True},
        {"uid": 2**70},
    ],
    ids=repr,
)
def test_claims_of_the_wrong_type_fail_verification_cleanly(user, claims):
    now = int(time.time())
    payload = {"user": user.username, "uid": user.pk, "iat": now, "exp": now + 60}
    token = jwt.encode({**payload, **claims}, settings.JWT_SECRET, algorithm="HS256")

    with pytest.raises(tokens.InvalidToken):
        tokens.verify(token)


# Housekeeping -----------------------------------------------------------------


def test_purge_expired_deletes_journal_entries_older_than_a_token_lifetime(user):
    now = timezone.now()
    lifetime = timedelta(seconds=settings.JWT_LIFETIME_SECONDS)
    old = SessionEnd.objects.create(
        user_id=user.pk, username="ana", created_at=now - lifetime * 2
    )
    recent = SessionEnd.objects.create(
        user_id=user.pk, username="ana", created_at=now - lifetime / 2
    )

    tokens.purge_expired(now=now)

    remaining = set(SessionEnd.objects.values_list("id", flat=True))
    assert old.pk not in remaining
    assert recent.pk in remaining


def test_purge_expired_deletes_only_revocation_records_of_expired_tokens(user):
    now = timezone.now()
    for token_id, expires_at in [
        ("expired-long-ago", now - timedelta(days=1)),
        ("expired-just-now", now - timedelta(seconds=1)),
        ("still-valid", now + timedelta(minutes=30)),
    ]:
        RevokedToken.objects.create(token_id=token_id, user=user, expires_at=expires_at)

    deleted = tokens.purge_expired(now=now)

    assert deleted == 2
    assert list(RevokedToken.objects.values_list("token_id", flat=True)) == [
        "still-valid"
    ]


def test_a_revoked_token_stays_refused_until_its_revocation_is_purged(user):
    token = token_for(user)
    tokens.revoke(tokens.verify(token))

    assert tokens.purge_expired() == 0
    with pytest.raises(tokens.InvalidToken, match="signed out"):
        tokens.verify(token)
