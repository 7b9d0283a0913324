"""Batches and the folding of per-record write failures into results."""

from __future__ import annotations

import pytest

from integrations.connectors.base import ConnectorError, RecordRefused
from integrations.connectors.batch import chunked, failed, write_each
from integrations.sync.records import Contact, WriteResult


def test_it_chunks_in_order_with_a_short_last_chunk() -> None:
    assert list(chunked([1, 2, 3, 4, 5], 2)) == [[1, 2], [3, 4], [5]]
    assert list(chunked([], 3)) == []


def test_it_fails_a_refused_record_for_good() -> None:
    result = failed("r1", RecordRefused("Acme refused email: invalid", field="emails", status=400))

    assert (result.ref, result.error, result.permanent) == (
        "r1",
        "Acme refused email: invalid",
        True,
    )


def test_it_fails_a_record_for_now_on_a_transient_error() -> None:
    result = failed("r1", ConnectorError("Acme: the API answered 503.", status=503))

    assert not result.permanent and not result.throttled and result.error


def test_it_marks_a_write_refused_by_the_rate_limit_throttled() -> None:
    result = failed("r1", ConnectorError("Acme: the rate limit is exhausted.", status=429))

    assert result.throttled and not result.permanent


def test_it_raises_an_error_about_the_account_rather_than_the_record() -> None:
    with pytest.raises(ConnectorError):
        failed("r1", ConnectorError("Acme: key refused", reauthorize=True, status=401))


def test_it_writes_each_item_and_goes_on_after_a_failure() -> None:
    def write(ref: str) -> WriteResult:
        if ref == "bad":
            raise RecordRefused("Acme refused the record", status=400)
        return WriteResult(ref=ref, record=Contact(id=ref))

    results = write_each(["a", "bad", "c"], ref=str, write=write)

    assert [(r.ref, r.ok) for r in results] == [("a", True), ("bad", False), ("c", True)]
