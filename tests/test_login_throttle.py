"""Sign-in throttling (services/throttle.py): backoff per client and username and per client,
never a lockout of a user signing in from elsewhere; atomic under concurrent guesses on
either backend; and every sign-in checks one password hash, known username or not."""
from __future__ import annotations

import itertools
import statistics
import threading
import time
from datetime import timedelta

from sqlalchemy import select, update

from annotator.extensions import db
from annotator.models import LoginThrottle, User, utcnow
from annotator.services import throttle
from annotator.services.throttle import PER_CLIENT, PER_USERNAME

from helpers import PASSWORD, hidden_csrf_token, make_user

ATTACKER, OWNER = "203.0.113.7", "198.51.100.20"


def client_at(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def sign_in(app, name: str, password: str = PASSWORD, address: str = OWNER):
    """POST the login form from a client at `address`; returns the response."""
    client = client_at(app, address)
    token = hidden_csrf_token(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"csrf_token": token, "username": name,
                                       "password": password})


def _allow_the_next_attempt_now(app) -> None:
    with app.app_context():
        db.session.execute(update(LoginThrottle).values(next_allowed_at=utcnow()))
        db.session.commit()


def test_wrong_guesses_wait_longer_and_longer_and_the_page_says_how_long(app):
    make_user(app, "li")
    for attempt in range(PER_USERNAME.free):
        response = sign_in(app, "li", f"wrong password {attempt}", ATTACKER)
        assert response.status_code == 200, attempt
        assert "Wrong username or password" in response.get_data(as_text=True)
    waits = []
    for _ in range(3):
        refused = sign_in(app, "li", "wrong password", ATTACKER)
        assert refused.status_code == 429
        assert "Too many failed sign-ins. Try again in" in refused.get_data(as_text=True)
        waits.append(int(refused.headers["Retry-After"]))
        assert sign_in(app, "li", PASSWORD, ATTACKER).status_code == 429  # even the right one
        _allow_the_next_attempt_now(app)
        assert sign_in(app, "li", "wrong password", ATTACKER).status_code == 200
    # 1, 2 and 4 seconds, less the time the page took since (under a second)
    assert [full - 1 <= wait <= full for wait, full in zip(waits, (1, 2, 4))] == [True] * 3, waits
    assert 7 <= int(sign_in(app, "li", "nope", ATTACKER).headers["Retry-After"]) <= 8


def test_guesses_from_elsewhere_never_keep_the_admin_out(app):
    make_user(app, "boss", "admin")
    for attempt in range(PER_USERNAME.free + 3):
        sign_in(app, "boss", f"guess {attempt}", ATTACKER)
    assert sign_in(app, "boss", "guess", ATTACKER).status_code == 429
    response = sign_in(app, "boss", PASSWORD, OWNER)
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_a_correct_password_clears_the_wait_for_that_client(app):
    make_user(app, "li")
    for attempt in range(PER_USERNAME.free - 1):
        assert sign_in(app, "li", "typo typo").status_code == 200
    assert sign_in(app, "li").status_code == 302
    for attempt in range(PER_USERNAME.free - 1):  # the count starts again from zero
        assert sign_in(app, "li", "typo typo").status_code == 200
    assert sign_in(app, "li").status_code == 302


def test_unknown_usernames_are_throttled_like_known_ones(app):
    make_user(app, "li")
    for attempt in range(PER_USERNAME.free):
        assert sign_in(app, "nobody", "guess guess", ATTACKER).status_code == 200
    assert sign_in(app, "nobody", "guess guess", ATTACKER).status_code == 429


# --- the counters, with the clock in the test's hands -------------------------------------


def test_the_client_counter_spans_every_username(session):
    now = utcnow()
    for n in range(PER_CLIENT.free):  # different usernames, so no username counter waits
        assert not throttle.take_attempt(session, ATTACKER, f"user{n}", now)
    assert throttle.take_attempt(session, ATTACKER, "one more", now) == timedelta(seconds=1)
    assert not throttle.take_attempt(session, OWNER, "one more", now)  # another client
    # an attempt refused by the client counter counts nowhere
    row = session.scalar(select(LoginThrottle).where(LoginThrottle.username == "one more",
                                                     LoginThrottle.remote_addr == ATTACKER))
    assert row is None


def test_a_correct_password_takes_back_only_its_own_attempt(session):
    """Signing in to one's own account from the attacking client buys no more guesses."""
    now = utcnow()
    for n in range(PER_CLIENT.free - 1):
        assert not throttle.take_attempt(session, ATTACKER, f"victim{n}", now)
    assert not throttle.take_attempt(session, ATTACKER, "mine", now)
    throttle.forgive(session, ATTACKER, "mine", now)  # back to free - 1
    assert not throttle.take_attempt(session, ATTACKER, "victim", now)
    assert throttle.take_attempt(session, ATTACKER, "victim2", now)


def test_the_wait_doubles_up_to_15_minutes_and_is_forgotten_after_an_hour(session):
    now, waits = utcnow(), []
    for _ in range(PER_USERNAME.free + 12):
        assert not throttle.take_attempt(session, ATTACKER, "li", now)
        allowed_at = session.scalar(select(LoginThrottle.next_allowed_at).where(
            LoginThrottle.username == "li"))
        waits.append(allowed_at - now)
        if allowed_at > now:  # an attempt before then is refused, and told the wait
            assert throttle.take_attempt(session, ATTACKER, "li", now) == allowed_at - now
        now = allowed_at
    free = PER_USERNAME.free
    assert waits[:free - 1] == [timedelta(0)] * (free - 1)
    assert waits[free - 1:free + 3] == [timedelta(seconds=s) for s in (1, 2, 4, 8)]
    assert waits[-1] == timedelta(minutes=15)
    later = now + throttle.FORGET_AFTER + timedelta(seconds=1)
    assert not throttle.take_attempt(session, ATTACKER, "li", later)
    failures = session.scalar(select(LoginThrottle.failures).where(LoginThrottle.username == "li"))
    assert failures == 1


def test_an_ipv6_client_is_its_slash_64():
    assert throttle.client_key("2001:db8:1:2:aaaa::1") == throttle.client_key("2001:db8:1:2::ffff")
    assert throttle.client_key("2001:db8:1:3::1") != throttle.client_key("2001:db8:1:2::1")
    assert throttle.client_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert throttle.client_key("192.0.2.1") == "192.0.2.1"


# --- concurrency: real threads on the real backend --------------------------------------------


def test_concurrent_guesses_get_at_most_the_free_attempts(app):
    """40 guesses at once, at one instant: exactly `free` of them may check a password."""
    now, results, barrier = utcnow(), [], threading.Barrier(40)

    def guess(n: int) -> None:
        with app.app_context():
            barrier.wait()
            results.append(throttle.take_attempt(db.session, ATTACKER, "boss", now))
            db.session.remove()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 40
    assert sum(1 for wait in results if not wait) == PER_USERNAME.free


def test_concurrent_wrong_passwords_through_the_login_page(app):
    """Of 20 concurrent wrong guesses only `free` get an answer (the old count-then-record
    throttle answered all of them), plus one for each backoff wait the burst outlasted."""
    make_user(app, "boss", "admin")
    clients = []
    for _ in range(20):
        client = client_at(app, ATTACKER)
        clients.append((client, hidden_csrf_token(client.get("/login").get_data(as_text=True))))
    statuses, barrier = [], threading.Barrier(len(clients))

    def guess(client, token) -> None:
        barrier.wait()
        statuses.append(client.post("/login", data={
            "csrf_token": token, "username": "boss", "password": "wrong password"}).status_code)

    threads = [threading.Thread(target=guess, args=pair) for pair in clients]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    elapsed = time.monotonic() - started
    assert sorted(set(statuses)) == [200, 429]
    outlasted = sum(1 for total in (1, 3, 7, 15) if total < elapsed)
    assert statuses.count(200) <= PER_USERNAME.free + outlasted, (statuses, elapsed)


# --- timing: an unknown username costs what a wrong password costs ------------------------


def test_unknown_and_deactivated_users_take_as_long_as_a_wrong_password(shipped_password_cost,
                                                                      app):
    make_user(app, "li")
    make_user(app, "gone")
    with app.app_context():
        db.session.execute(update(User).where(User.username == "gone").values(active=False))
        db.session.commit()
    times: dict[str, list[float]] = {"li": [], "nobody": [], "gone": []}
    addresses = (f"192.0.2.{n}" for n in itertools.count(1))
    for _ in range(7):
        for name in times:  # a new client each time, so no wait gets in the way
            client = client_at(app, next(addresses))
            token = hidden_csrf_token(client.get("/login").get_data(as_text=True))
            started = time.perf_counter()
            response = client.post("/login", data={"csrf_token": token, "username": name,
                                                   "password": "wrong password"})
            times[name].append(time.perf_counter() - started)
            assert response.status_code == 200
    real = statistics.median(times["li"])
    assert statistics.median(times["nobody"]) > 0.5 * real, times
    assert statistics.median(times["gone"]) > 0.5 * real, times
