"""Identity's pure rules: token shape and prefixes, names, a token's state."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from suanli.domain.identity import (
    Organization,
    Project,
    Scope,
    TokenInfo,
    is_well_formed_token,
    normalize_prefix,
    token_prefix,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_minted_tokens_are_well_formed_and_others_are_not() -> None:
    token = "sk_" + secrets.token_urlsafe(32)
    assert is_well_formed_token(token)
    assert token_prefix(token) == token[3:11]
    assert not is_well_formed_token(token[:-1])
    assert not is_well_formed_token(token + "x")
    assert not is_well_formed_token("sl_" + token[3:])  # a center agent's token
    assert not is_well_formed_token(token[:20] + "!" + token[21:])
    assert not is_well_formed_token("")


@pytest.mark.parametrize(
    ("given", "prefix"),
    [("AbCd12_-", "AbCd12_-"), ("sk_AbCd1234", "AbCd1234"), (" AbCd1234 ", "AbCd1234"), ("AbCd123", None)],
)
def test_a_prefix_as_people_give_it(given: str, prefix: str | None) -> None:
    assert normalize_prefix(given) == prefix


def test_a_whole_token_names_its_prefix_and_a_longer_prefix_is_refused() -> None:
    token = "sk_" + secrets.token_urlsafe(32)
    assert normalize_prefix(token) == token[3:11]
    assert normalize_prefix(token[3:12]) is None  # nine characters: not some other token's eight


def test_names_follow_the_center_name_pattern() -> None:
    Organization(name="qd-university", kind="university")  # type: ignore[arg-type]
    Project(organization="default", name="vision-2")
    for bad in ("", "Upper", "-dash", "dash-", "a" * 64, "with space"):
        with pytest.raises(ValidationError):
            Organization(name=bad, kind="lab")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Organization(name="x", kind="startup")  # type: ignore[arg-type]


def test_a_tokens_state() -> None:
    info = TokenInfo(
        prefix="AbCd1234",
        name="laptop",
        principal="alice",
        organization="acme",
        scopes=frozenset({Scope.READ}),
        created_at=T0,
        expires_at=T0 + timedelta(days=1),
    )
    assert info.state(T0) == "active"
    assert info.state(T0 + timedelta(days=1)) == "expired"
    assert info.model_copy(update={"revoked_at": T0}).state(T0) == "revoked"
    assert info.model_copy(update={"expires_at": None}).state(T0 + timedelta(days=9999)) == "active"
