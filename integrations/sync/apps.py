"""The engine's view of the app on one side: the calls a run makes, and nothing else.

``App`` wraps a connector (anything with the shape of ``AppConnector``; every connector
package has it) and says which side failed: a ``ConnectorError`` leaving
an ``App`` carries ``side``. The API calls of a run are counted in one place,
``calls_by_kind``. A run may call its apps from threads of its own (``App.threads``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import Protocol

from integrations.sync.errors import ConnectorError
from integrations.sync.fields import ConditionSpec, FieldSpec, NameStyle
from integrations.sync.pipeline import Errands
from integrations.sync.records import (
    Checkpoint,
    Contact,
    ContactUpdate,
    NewContact,
    Page,
    WriteResult,
)
from integrations.sync.sides import Side


class AppCapabilities(Protocol):
    @property
    def name_style(self) -> NameStyle: ...
    @property
    def supports_deletions(self) -> bool: ...
    @property
    def supports_unsubscribes(self) -> bool: ...
    @property
    def lookup_batch_size(self) -> int: ...
    @property
    def create_batch_size(self) -> int: ...
    @property
    def update_batch_size(self) -> int: ...
    @property
    def conditions(self) -> tuple[ConditionSpec, ...]: ...


class CallCounter(Protocol):
    @property
    def calls(self) -> Mapping[str, int]: ...


class AppConnector(Protocol):
    """What a run asks of a connector (``connectors/base.py`` documents each call)."""

    @property
    def name(self) -> str: ...
    @property
    def capabilities(self) -> AppCapabilities: ...
    @property
    def http(self) -> CallCounter: ...
    def fields_for_sync(self, keys: Collection[str]) -> dict[str, FieldSpec]: ...
    def list_changed(self, checkpoint: Checkpoint | None) -> Iterator[Page]: ...
    def get_many(self, ids: list[str]) -> list[Contact]: ...
    def find_by_emails(self, emails: list[str]) -> dict[str, list[Contact]]: ...
    def find_by_intent_keys(self, keys: list[str]) -> dict[str, Contact]: ...
    def create_many(self, items: list[NewContact]) -> list[WriteResult]: ...
    def update_many(self, items: list[ContactUpdate]) -> list[WriteResult]: ...
    def tag(self, ids: list[str], tag: str) -> list[WriteResult]: ...
    def untag(self, ids: list[str], tag: str) -> list[WriteResult]: ...


@contextmanager
def blaming(side: str) -> Iterator[None]:
    """A ``ConnectorError`` raised inside says it came from ``side`` (unless it already says)."""
    try:
        yield
    except ConnectorError as exc:
        if exc.side is None:
            exc.side = side
        raise


class App:
    """The app on one side of a run."""

    def __init__(self, side: Side, connector: AppConnector) -> None:
        self.side = side
        self.connector = connector
        self.name = connector.name
        self.caps = connector.capabilities
        # Whether the run may call this app from threads of its own, beside its main thread
        # (``sync/pipeline.py``). A connector says no with ``calls_from_threads = False``: a
        # test double whose hooks touch the database, which is per thread, does.
        self.threads = bool(getattr(connector, "calls_from_threads", True))

    @contextmanager
    def credentials_kept_by(self, errands: Errands) -> Iterator[None]:
        """While the run calls the app from other threads too, credentials the connector
        refreshed in one of them are stored by the run's own thread (the database's)."""
        keep = getattr(self.connector, "on_credentials_changed", None)
        if keep is None:
            yield
            return
        self.connector.on_credentials_changed = lambda credentials: errands.call(  # type: ignore[attr-defined]
            partial(keep, credentials)
        )
        try:
            yield
        finally:
            self.connector.on_credentials_changed = keep  # type: ignore[attr-defined]

    def fields_for_sync(self, keys: Collection[str]) -> dict[str, FieldSpec]:
        with blaming(self.side):
            return self.connector.fields_for_sync(keys)

    def list_changed(self, checkpoint: Checkpoint | None) -> Iterator[Page]:
        with blaming(self.side):
            yield from self.connector.list_changed(checkpoint)

    def get_many(self, ids: list[str]) -> list[Contact]:
        with blaming(self.side):
            return self.connector.get_many(ids)

    def find_by_emails(self, emails: list[str]) -> dict[str, list[Contact]]:
        with blaming(self.side):
            return self.connector.find_by_emails(emails)

    def find_by_intent_keys(self, keys: list[str]) -> dict[str, Contact]:
        with blaming(self.side):
            return self.connector.find_by_intent_keys(keys)

    def create_many(self, items: list[NewContact]) -> list[WriteResult]:
        with blaming(self.side):
            return self.connector.create_many(items)

    def update_many(self, items: list[ContactUpdate]) -> list[WriteResult]:
        with blaming(self.side):
            return self.connector.update_many(items)

    def tag(self, ids: list[str], tag: str) -> list[WriteResult]:
        with blaming(self.side):
            return self.connector.tag(ids, tag)

    def untag(self, ids: list[str], tag: str) -> list[WriteResult]:
        with blaming(self.side):
            return self.connector.untag(ids, tag)


def calls_by_kind(connectors: Mapping[str, AppConnector | App]) -> dict[str, int]:
    """Both apps' API calls so far, keyed "<side>: <kind>": the one count of a run's calls."""
    found: dict[str, int] = {}
    for side, app in connectors.items():
        connector = app.connector if isinstance(app, App) else app
        # A copy: another thread of the run may be counting a call.
        for kind, count in dict(connector.http.calls).items():
            found[f"{side}: {kind}"] = count
    return found
