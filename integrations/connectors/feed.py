"""Change feeds read by ``updated_at``: a search for records changed at or after a cursor, oldest
first (Kustomer; HubSpot's and Mailchimp's searches work the same way).

The checkpoint is ``{"updated_at": <stamp of the last record applied>, "seen_ids": [ids already
yielded at exactly that stamp], "revs": {id: version}}``. Reading ``>=`` never skips a record
that shares the stamp, and the ties already applied are dropped unless their version moved on.
Stamps are compared as the app wrote them, so they must sort as text (ISO 8601 in UTC).

Searches stop after a number of pages (Kustomer: 100). A search that reaches its cap is started
again from the last stamp seen, skipping the ties; when a whole capped search did not get past
one stamp, the read cannot go on and says so instead of looping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from integrations.connectors.base import ConnectorError
from integrations.sync.records import Checkpoint, Contact, Page


@dataclass(frozen=True)
class Listed:
    """One page of a search: each record with the stamp it was searched by (its ``updated_at``
    as the app wrote it); ``last`` when the search has no more pages, ``capped`` when it has
    more but reached its page cap (the search then ends there)."""

    records: list[tuple[Contact, str | None]]
    last: bool = False
    capped: bool = False


class UpdatedAtCursor:
    """Where an ``updated_at`` read stands: the stamp to search from and the records already
    yielded at exactly that stamp."""

    def __init__(self, checkpoint: Checkpoint | None) -> None:
        checkpoint = checkpoint or {}
        self.since: str | None = checkpoint.get("updated_at") or None
        self.full_scan = self.since is None
        self.tie_at = self.since
        self.ties: dict[str, str] = {
            str(k): str(v) for k, v in (checkpoint.get("revs") or {}).items()
        }
        # Older checkpoints listed the ties without their versions.
        for record_id in checkpoint.get("seen_ids") or []:
            self.ties.setdefault(str(record_id), "")
        self._restarted_at: str | None = None

    def admit(self, record: Contact, stamp: str | None) -> bool:
        """Whether ``record`` is news: ``False`` for a tie already yielded at its version."""
        if (
            stamp == self.tie_at
            and record.id in self.ties
            and self.ties[record.id] in ("", record.version)
        ):
            return False
        if stamp != self.tie_at:
            self.tie_at, self.ties = stamp, {}
        self.ties[record.id] = record.version
        return True

    def checkpoint(self) -> Checkpoint:
        return {"updated_at": self.tie_at, "seen_ids": list(self.ties), "revs": dict(self.ties)}

    def restart(self, app_name: str) -> None:
        """Search again from the last stamp seen, after a search reached its page cap."""
        if self.tie_at is None or self.tie_at == self._restarted_at:
            raise ConnectorError(
                f"{app_name}: more records share one updated time than one search can page "
                "through; the read cannot go on."
            )
        self.since = self._restarted_at = self.tie_at


def updated_at_pages(
    checkpoint: Checkpoint | None,
    search: Callable[[str | None], Iterator[Listed]],
    *,
    app_name: str,
) -> Iterator[Page]:
    """Pages of records changed since ``checkpoint``, each with the checkpoint safe to store
    once it is applied. ``search(since)`` lists records with a stamp ``>= since`` (everything
    for ``None``) in ascending stamp order, page by page."""
    cursor = UpdatedAtCursor(checkpoint)
    while True:
        capped = False
        for listed in search(cursor.since):
            records = [record for record, stamp in listed.records if cursor.admit(record, stamp)]
            # A page of nothing but ties already applied is not worth a checkpoint, unless it
            # ends the search.
            if records or listed.last or listed.capped:
                yield Page(
                    records=records, checkpoint=cursor.checkpoint(), full_scan=cursor.full_scan
                )
            if listed.last or listed.capped:
                capped = listed.capped
                break
        if not capped:
            return
        cursor.restart(app_name)
