"""The encrypted session cookie and its CSRF token."""

from __future__ import annotations

import time

from services.portal.session import Session, SessionCodec


def test_a_session_survives_the_round_trip_and_hides_its_tokens() -> None:
    codec = SessionCodec(SessionCodec.new_key(), 3600)
    session = Session(access_token="secret.jwt.value", expires_at=time.time() + 600)
    cookie = codec.dump(session)
    assert "secret" not in cookie
    assert codec.load(cookie) == session


def test_a_forged_or_foreign_cookie_is_a_new_empty_session() -> None:
    codec = SessionCodec(SessionCodec.new_key(), 3600)
    other = SessionCodec(SessionCodec.new_key(), 3600)
    cookie = other.dump(Session(access_token="x"))
    assert not codec.load(cookie).signed_in
    assert not codec.load(cookie[:-4] + "AAAA").signed_in
    assert not codec.load("garbage").signed_in


def test_the_csrf_token_must_match_exactly() -> None:
    session = Session()
    assert session.csrf_matches(session.csrf)
    assert not session.csrf_matches(None)
    assert not session.csrf_matches(session.csrf[:-1])


def test_signing_out_keeps_only_the_csrf_token() -> None:
    session = Session(access_token="a", refresh_token="r", roles=["facilitator"])
    csrf = session.csrf
    session.sign_out()
    assert session == Session(csrf=csrf)


def test_a_token_about_to_expire_is_refreshed() -> None:
    session = Session(access_token="a", expires_at=1000.0)
    assert session.needs_refresh(now=975.0)
    assert not session.needs_refresh(now=900.0)
