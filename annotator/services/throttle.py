"""Sign-in throttle: exponential backoff per client and username, and per client.

Every attempt is counted as a failure when it is taken, before its password is checked, in
one atomic upsert per counter; a correct password takes it back (`forgive`). Concurrent
guesses therefore cannot all slip through before the first failure is recorded. Nothing is
counted per username alone, so guesses from elsewhere never keep a user (the admin
included) from signing in from their own address."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, case, delete, select, update
from sqlalchemy.orm import Session

from ..database import dialect_insert, write_transaction
from ..models import LoginThrottle, utcnow

ANY_USERNAME = ""  # the counter of every username tried from one client
FORGET_AFTER = timedelta(hours=1)  # a counter left alone this long starts again from zero


@dataclass(frozen=True)
class Backoff:
    free: int  # attempts in a row without waiting
    first_wait: timedelta  # the wait after the first attempt past `free`, doubling after each
    max_wait: timedelta

    def wait_after(self, attempts: int) -> timedelta:
        """How long the next attempt waits after `attempts` unforgiven attempts in a row."""
        if attempts < self.free:
            return timedelta(0)
        return min(self.first_wait * 2 ** min(attempts - self.free, 30), self.max_wait)


PER_USERNAME = Backoff(free=5, first_wait=timedelta(seconds=1), max_wait=timedelta(minutes=15))
PER_CLIENT = Backoff(free=50, first_wait=timedelta(seconds=1), max_wait=timedelta(minutes=15))

_throttle = LoginThrottle.__table__
_KEY = (_throttle.c.remote_addr == bindparam("client"),
        _throttle.c.username == bindparam("name"))


def client_key(remote_addr: str) -> str:
    """The client an address stands for: IPv4 as is, IPv6 by its /64 (one host usually holds
    a whole /64, so counting single addresses would give it billions of counters)."""
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return remote_addr[:64]
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def take_attempt(session: Session, remote_addr: str, username: str,
                 now: datetime | None = None) -> timedelta:
    """Count a sign-in attempt against the client and against the client and username, or
    refuse it: returns how long the caller must wait, zero (falsy) when the attempt may
    check its password. Commits."""
    now = now or utcnow()
    client, name = client_key(remote_addr), username[:64]
    with write_transaction(session):
        wait = _take(session, client, ANY_USERNAME, PER_CLIENT, now)
        if not wait:
            wait = _take(session, client, name, PER_USERNAME, now)
        if wait:
            session.rollback()  # a refused attempt counts nowhere
        else:
            session.commit()
    return wait


def forgive(session: Session, remote_addr: str, username: str,
            now: datetime | None = None) -> None:
    """A correct password: take back the attempt `take_attempt` counted, clear the username's
    counter for this client, and drop counters nobody has used for a while. Commits."""
    now = now or utcnow()
    client = client_key(remote_addr)
    with write_transaction(session):
        session.execute(delete(_throttle).where(*_KEY), {"client": client, "name": username[:64]})
        refunded = session.execute(_REFUND, {"client": client, "name": ANY_USERNAME}).first()
        if refunded is not None:
            session.execute(_SET_NEXT_ALLOWED, {
                "client": client, "name": ANY_USERNAME,
                "next_at": refunded.last_attempt_at + PER_CLIENT.wait_after(refunded.failures)})
        session.execute(delete(_throttle).where(_throttle.c.last_attempt_at < now - FORGET_AFTER))
        session.commit()


def _take(session: Session, client: str, name: str, backoff: Backoff,
          now: datetime) -> timedelta:
    """One counter: one more attempt unless it must still wait (an upsert that takes the
    row's lock, so concurrent attempts see each other); then set when the next may come."""
    params = {"client": client, "name": name, "now": now, "forget_before": now - FORGET_AFTER}
    attempts = session.scalar(_upsert(dialect_insert(session)), params)
    if attempts is None:
        next_allowed = session.scalar(select(_throttle.c.next_allowed_at).where(*_KEY), params)
        return max(next_allowed - now, timedelta(seconds=1))
    session.execute(_SET_NEXT_ALLOWED, {**params, "next_at": now + backoff.wait_after(attempts)})
    return timedelta(0)


_SET_NEXT_ALLOWED = update(_throttle).where(*_KEY).values(next_allowed_at=bindparam("next_at"))
_REFUND = (update(_throttle).where(*_KEY, _throttle.c.failures > 0)
           .values(failures=_throttle.c.failures - 1)
           .returning(_throttle.c.failures, _throttle.c.last_attempt_at))


def _upsert(insert_into):
    now = bindparam("now")
    statement = insert_into(_throttle).values(
        remote_addr=bindparam("client"), username=bindparam("name"), failures=1,
        last_attempt_at=now, next_allowed_at=now)
    return statement.on_conflict_do_update(
        index_elements=[_throttle.c.remote_addr, _throttle.c.username],
        set_={"failures": case((_throttle.c.last_attempt_at < bindparam("forget_before"), 1),
                               else_=_throttle.c.failures + 1),
              "last_attempt_at": now},
        where=_throttle.c.next_allowed_at <= now,
    ).returning(_throttle.c.failures)
