"""The UI's signed cookies: sessions, CSRF tokens and one-time sign-in links."""

from __future__ import annotations

from headwater.storage import secrets as secret_box
from headwater.storage import tenants
from headwater.ui import session as sessions

SIGNER = sessions.Signer(b"k" * 32)
WHO = tenants.Principal(organization_id=3, user_id=7)


def test_a_session_reads_back_until_it_expires() -> None:
    made = sessions.Session.new(WHO, now=1000.0)
    cookie = made.cookie(SIGNER)
    assert sessions.Session.read(SIGNER, cookie, now=1001.0) == made
    assert sessions.Session.read(SIGNER, cookie, now=1000.0 + sessions.SESSION_SECONDS) is None
    assert made.principal == WHO


def test_a_changed_or_foreign_cookie_is_no_session() -> None:
    cookie = sessions.Session.new(WHO, now=1000.0).cookie(SIGNER)
    body, mac = cookie.split(".")
    other_org = sessions.Signer(b"j" * 32).sign(
        "session", {"o": 1, "u": 1, "s": "", "x": "", "t": 0}
    )
    forged_values = (body + "." + mac[:-2] + "AA", "x" + cookie, other_org, "", "a.b.c", None)
    for forged in (*forged_values, body + ".é", "é." + mac):
        assert sessions.Session.read(SIGNER, forged, now=1001.0) is None
    # a value signed for another purpose does not pass as a session
    link = sessions.sign_in_link(SIGNER, WHO, now=1000.0)
    assert sessions.Session.read(SIGNER, link, now=1001.0) is None


def test_csrf_is_compared_exactly() -> None:
    made = sessions.Session.new(WHO)
    assert made.csrf_ok(made.csrf)
    assert not made.csrf_ok(made.csrf + "x")
    assert not made.csrf_ok(None)
    assert SIGNER.token_for("sign-in", "n1") != SIGNER.token_for("sign-in", "n2")


def test_a_sign_in_link_works_once_and_expires() -> None:
    used = sessions.UsedLinks()
    link = sessions.sign_in_link(SIGNER, WHO, now=1000.0)
    assert sessions.read_link(SIGNER, link, used, now=1001.0) == WHO
    assert sessions.read_link(SIGNER, link, used, now=1002.0) is None
    late = sessions.sign_in_link(SIGNER, WHO, now=1000.0)
    expired_at = 1000.0 + sessions.LINK_SECONDS
    assert sessions.read_link(SIGNER, late, sessions.UsedLinks(), now=expired_at) is None
    assert sessions.read_link(SIGNER, late[:-1], sessions.UsedLinks(), now=1001.0) is None


def test_sessions_outlive_a_secret_key_rotation_until_it_finishes() -> None:
    old = secret_box.SecretBox(b"o" * 32, "")
    rotating = secret_box.SecretBox(b"n" * 32, "").reading(old)
    finished = secret_box.SecretBox(b"n" * 32, "")
    made = sessions.Session.new(WHO, now=1000.0)
    before = made.cookie(sessions.Signer.of(old))
    # a server started with the new key (and the old as previous) keeps the old sessions
    assert sessions.Session.read(sessions.Signer.of(rotating), before, now=1001.0) == made
    after = made.cookie(sessions.Signer.of(rotating))
    assert after != before
    assert sessions.Session.read(sessions.Signer.of(finished), after, now=1001.0) == made
    # once the old key is retired, what it signed is no session
    assert sessions.Session.read(sessions.Signer.of(finished), before, now=1001.0) is None
