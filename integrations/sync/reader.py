"""Reading records for a run: a scan lists each app once, keeping the listing on local disk
(``sync/listing.py``) and an index of its emails; counterparts and email holders then come
from there, and from the app only when the listing lacks them. An incremental run asks the
apps: their change feeds, and records by id or by email."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping

from integrations.sync.apps import App
from integrations.sync.listing import Listing
from integrations.sync.pipeline import Ahead, Errands, read_ahead
from integrations.sync.records import Checkpoint, Contact, Page, normalize_email, previous_ids
from integrations.sync.sides import SIDES, chunks
from integrations.sync.state import EmailIndex, RunState

# A scan processes its listed pages joined into groups of at least this many records: still
# full write batches (at most 200 a call), and a group's objects, which make most of a scan's peak
# memory, stay few (at 30,000 a side: peak RSS 219 MB at 5,000, 159 MB at 2,000, 125 MB at
# 1,000 with the run's ids packed; the same 482 calls).
SCAN_GROUP = 1000
# Pages each app's listing thread reads ahead of the indexing.
LIST_AHEAD = 4
# Told of each page a run reads: (stage: "listing" / "scan" / "changes", side, records).
Progress = Callable[[str, str, int], None]


class Reader:
    def __init__(
        self,
        apps: Mapping[str, App],
        *,
        scan: bool,
        beat: Callable[[], None] = lambda: None,
        errands: Errands | None = None,
    ) -> None:
        self.apps = apps
        self.scan = scan
        # Beaten, and the reading threads' errands run, while the run waits on a page.
        self.beat = beat
        self.errands = errands or Errands()
        self.listings: dict[str, Listing] = {}
        self.index: dict[str, EmailIndex] = {}

    def list_sides(
        self, state: RunState, beat: Callable[[], None], progress: Progress | None
    ) -> None:
        """The scan's one read of each app: every record indexed by email and kept on disk.
        The two apps are listed at once, each in a thread of its own a few pages ahead (when
        both allow it); their pages are indexed and kept here, in this thread, as they come."""
        for side in SIDES:
            self.index[side] = EmailIndex()
            self.listings[side] = Listing()
        sources = {side: self.apps[side].list_changed(None) for side in SIDES}
        if all(self.apps[side].threads for side in SIDES):
            with Ahead(sources, depth=LIST_AHEAD, beat=beat, errands=self.errands) as ahead:
                for side, page in ahead:
                    self._keep(side, page, beat, progress)
        else:
            for side in SIDES:
                for page in sources[side]:
                    self._keep(side, page, beat, progress)
        for side in SIDES:
            state.side_sizes[side] = self.index[side].size

    def _keep(
        self, side: str, page: Page, beat: Callable[[], None], progress: Progress | None
    ) -> None:
        beat()
        index = self.index[side]
        for record in page.records:
            index.add(record)
        self.listings[side].add_page(page)
        if progress is not None:
            progress("listing", side, len(page.records))

    def pages(self, side: str, checkpoint: Checkpoint | None) -> Iterator[Page]:
        """A side's pages: a scan's listed groups, or the app's change feed, read a page ahead
        in a thread (when the app allows it) while the run works on the one before."""
        if self.scan:
            return self.listings[side].pages(SCAN_GROUP)
        app = self.apps[side]
        if app.threads:
            return read_ahead(app.list_changed(checkpoint), beat=self.beat, errands=self.errands)
        return app.list_changed(checkpoint)

    def fetch(self, side: str, ids: list[str]) -> dict[str, Contact]:
        """Current records by id (also under a previous id they answered to): from the scan's
        listing when there is one, else (or when the listing lacks them) from the app."""
        found: dict[str, Contact] = {}
        listing = self.listings.get(side)
        if listing is not None:
            for asked, record in listing.get_many(ids).items():
                found[asked] = record
                found.setdefault(record.id, record)
            ids = [record_id for record_id in ids if record_id not in found]
        app = self.apps[side]
        for batch in chunks(ids, app.caps.lookup_batch_size):
            for record in app.get_many(batch):
                found[record.id] = record
                for old in previous_ids(record):
                    found.setdefault(old, record)
        for record in found.values():
            record.make_storable()
        return found

    def get_many(self, side: str, ids: list[str]) -> list[Contact]:
        return self.apps[side].get_many(ids)

    def holders(self, side: str, emails: list[str], state: RunState) -> dict[str, list[str]]:
        """Ids of live records on ``side`` holding each email (scan: the index; later: the
        app). Ids they had before are remembered in ``state.previous``."""
        previous = state.previous[side]
        if self.scan:
            index = self.index[side]
            held = {email: index.holders(email) for email in emails}
            for ids in held.values():
                for record_id in ids:
                    if record_id in index.previous:
                        previous[record_id] = index.previous[record_id]
            return held
        found: dict[str, list[str]] = defaultdict(list)
        app = self.apps[side]
        for batch in chunks(emails, app.caps.lookup_batch_size):
            for email, records in app.find_by_emails(batch).items():
                for record in records:
                    if not record.deleted and record.id not in found[normalize_email(email)]:
                        found[normalize_email(email)].append(record.id)
                        if previous_ids(record):
                            previous[record.id] = previous_ids(record)
        return found

    def close(self) -> None:
        for listing in self.listings.values():
            listing.close()
