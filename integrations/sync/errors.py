"""Why a run stops: an app failed (``ConnectorError``, which says on which side once the
engine has seen it), or the run would tag too much of a side (``BreakerTripped``)."""

from __future__ import annotations


class ConnectorError(Exception):
    """Any failure talking to an app.

    ``permanent`` errors will not heal by retrying (bad credentials, missing permission, revoked
    grant): the connected account needs attention and calls stop. ``reauthorize`` says the fix is
    to authorize the account again (401, ``invalid_grant``). ``side`` is the connection's side
    whose app failed, set as the error leaves the engine's view of that app (``sync/apps.py``);
    ``None`` for an error raised outside a run.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        reauthorize: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent or reauthorize
        self.reauthorize = reauthorize
        self.status = status
        self.retry_after = retry_after
        self.side: str | None = None


class RecordRefused(ConnectorError):
    """The app refused one record (a missing or invalid value): that write fails for good, the
    batch goes on. ``field`` names the Tandem field at fault where the app says which."""

    def __init__(
        self, message: str, *, field: str = "the record", reason: str = "", status: int | None
    ) -> None:
        super().__init__(message, permanent=True, status=status)
        self.field = field
        self.reason = reason or message


class BreakerTripped(Exception):
    """The run would tag more than ``TANDEM_MASS_TAG_SHARE`` of a side as deleted or
    unsubscribed. The service pauses the connection with this message until confirmed."""
