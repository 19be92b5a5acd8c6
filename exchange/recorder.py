"""The exchange log as the registry adapters' personal-data access recorder.

Every registry lookup calls ``record`` before the registry is asked; this appends a signed
``pd_access`` entry to the exchange log in the caller's transaction, so the access and the
case change that needed it commit (or roll back) together.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy.orm import Session

from exchange.access import record_pd_access
from exchange.home import Home


class ExchangeAccessRecorder:
    """``registry_adapters.base.AccessRecorder`` backed by the exchange log.

    Args:
        session: the caller's session (the caller owns the transaction).
        home: keys and roles.
        role: the regulation role the actors act for (the AIS owner asks the data holder).
        clock: the UTC time of each access; passed in so tests and replays control it.
    """

    def __init__(
        self, session: Session, home: Home, role: str = "ais_owner",
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
    ) -> None:
        self._session = session
        self._home = home
        self._role = role
        self._clock = clock

    def record(self, actor: str, purpose: str, plate: str, case_id: str | None) -> None:
        record_pd_access(self._session, self._home, actor, self._role, purpose, plate, case_id, at=self._clock())
