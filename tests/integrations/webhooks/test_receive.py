"""The receiver over Django's test client, with the connection's runs on the sandboxes: what
it takes, refuses and counts, and how many runs the deliveries make."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from integrations.leases import lease_acquire, lease_release
from integrations.models import SyncRun
from integrations.webhooks.models import WebhookWake
from integrations.webhooks.services import counts
from integrations.webhooks.wake import wake_run
from tests.e2e.conftest import person
from tests.integrations.webhooks.conftest import SECRET, Hooked
from tests.integrations.webhooks.deliveries import kustomer_envelope

pytestmark = pytest.mark.django_db


def runs(hooked: Hooked) -> int:
    return SyncRun.objects.filter(connection=hooked.connection).count()


def pending(hooked: Hooked) -> list[list[str]]:
    wake = WebhookWake.objects.filter(pk=hooked.connection.pk).first()
    return [] if wake is None else list(wake.changes)


def test_it_takes_a_signed_delivery_and_queues_one_run(
    hooked: Hooked, django_capture_on_commit_callbacks: Any
) -> None:
    customer = hooked.pair.add_customer("Ann Lee", "ann@example.com")
    with django_capture_on_commit_callbacks() as queued:
        response = hooked.deliver(hooked.event_for(customer, name="kustomer.customer.create"))
    assert (response.status_code, response.json()["outcome"]) == (200, "accepted")
    assert len(queued) == 1
    assert pending(hooked) == [["a", customer, "1"]]


def test_its_queued_run_brings_the_contact_to_google(
    hooked: Hooked, django_capture_on_commit_callbacks: Any
) -> None:
    customer = hooked.pair.add_customer("Ann Lee", "ann@example.com")
    before = runs(hooked)
    with django_capture_on_commit_callbacks(execute=True):
        hooked.deliver(hooked.event_for(customer, name="kustomer.customer.create"))
    assert runs(hooked) == before + 1
    assert hooked.pair.contact_by_email("ann@example.com")["names"][0]["givenName"] == "Ann"
    assert pending(hooked) == []


def test_it_refuses_and_counts_a_forged_delivery(
    hooked: Hooked, django_capture_on_commit_callbacks: Any
) -> None:
    customer = hooked.pair.add_customer("Ann Lee", "ann@example.com")
    with django_capture_on_commit_callbacks() as queued:
        response = hooked.deliver(hooked.event_for(customer), secret="not-the-token")
    assert response.status_code == 401
    assert queued == [] and pending(hooked) == []
    assert counts("kustomer") == {"forged": 1}


def test_it_refuses_and_counts_a_delivery_to_an_unknown_receiver(hooked: Hooked) -> None:
    response = hooked.deliver(kustomer_envelope("c1"), key="no-such-subscription")
    assert response.status_code == 404
    assert counts("kustomer") == {"unknown": 1}


def test_it_refuses_and_counts_a_replay_past_the_window(
    hooked: Hooked, django_capture_on_commit_callbacks: Any
) -> None:
    customer = hooked.pair.add_customer("Ann Lee", "ann@example.com")
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    with django_capture_on_commit_callbacks() as queued:
        response = hooked.deliver(hooked.event_for(customer, created=old))
    assert response.status_code == 401
    assert queued == [] and pending(hooked) == []
    assert counts("kustomer") == {"stale": 1}


def test_it_takes_a_delivery_sent_twice_once(
    hooked: Hooked, django_capture_on_commit_callbacks: Any
) -> None:
    customer = hooked.pair.add_customer("Ann Lee", "ann@example.com")
    event = hooked.event_for(customer)
    with django_capture_on_commit_callbacks() as queued:
        first = hooked.deliver(event)
        again = hooked.deliver(event)
    assert first.json()["outcome"] == "accepted"
    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    assert len(queued) == 1 and len(pending(hooked)) == 1
    assert counts("kustomer") == {"accepted": 1, "duplicate": 1}


def test_it_ignores_an_older_version_delivered_after_a_newer_one_was_applied(
    hooked: Hooked, django_capture_on_commit_callbacks: Any
) -> None:
    customer = hooked.pair.add_customer("Ann Lee", "ann@example.com")
    hooked.pair.sync(hooked.connection)
    old_event = hooked.event_for(customer)
    hooked.pair.kustomer.update_customer(hooked.pair.subdomain, customer, {"name": "Ann Park"})
    hooked.pair.sync(hooked.connection)
    with django_capture_on_commit_callbacks() as queued:
        response = hooked.deliver(old_event)
    assert response.json()["outcome"] == "echo"
    assert queued == [] and pending(hooked) == []


def test_it_ends_with_the_latest_values_when_deliveries_arrive_out_of_order(
    hooked: Hooked, django_capture_on_commit_callbacks: Any
) -> None:
    customer = hooked.pair.add_customer("Ann Lee", "ann@example.com")
    first = hooked.event_for(customer, name="kustomer.customer.create")
    hooked.pair.kustomer.update_customer(hooked.pair.subdomain, customer, {"name": "Ann Park"})
    second = hooked.event_for(customer)
    before = runs(hooked)
    with django_capture_on_commit_callbacks(execute=True):
        hooked.deliver(second)
        hooked.deliver(first)
    assert runs(hooked) == before + 1
    assert hooked.pair.contact_by_email("ann@example.com")["names"][0]["familyName"] == "Park"


def test_it_drops_the_echo_of_its_own_write(
    hooked: Hooked, django_capture_on_commit_callbacks: Any
) -> None:
    hooked.pair.add_contact(person("Bo", "Chen", "bo@example.com"))
    hooked.pair.sync(hooked.connection)
    written = hooked.pair.customer_by_email("bo@example.com")
    echo = hooked.event_for(written["id"], name="kustomer.customer.create")
    assert echo["data"]["relationships"]["modifiedBy"]["data"]["id"] == hooked.machine_user
    with django_capture_on_commit_callbacks() as queued:
        response = hooked.deliver(echo)
    assert response.json()["outcome"] == "echo"
    assert queued == [] and pending(hooked) == []


def test_it_drops_its_own_write_delivered_before_the_run_saved_its_link(
    hooked: Hooked, django_capture_on_commit_callbacks: Any
) -> None:
    echo = kustomer_envelope("5f00000000000000000000ee", rev=1, author=hooked.machine_user)
    with django_capture_on_commit_callbacks() as queued:
        response = hooked.deliver(echo)
    assert response.json()["outcome"] == "echo"
    assert queued == []


def test_it_coalesces_a_burst_of_a_hundred_deliveries_into_one_run(
    hooked: Hooked, django_capture_on_commit_callbacks: Any
) -> None:
    customers = [hooked.pair.add_customer(f"Person {n}", f"p{n}@example.com") for n in range(10)]
    before = runs(hooked)
    with django_capture_on_commit_callbacks() as queued:
        for n in range(100):
            response = hooked.deliver(hooked.event_for(customers[n % 10]))
            assert response.status_code == 200
    assert len(queued) == 1
    assert counts("kustomer") == {"accepted": 100}
    for callback in queued:
        callback()
    assert runs(hooked) == before + 1
    assert len(hooked.pair.contacts()) == 10


def test_it_never_runs_a_connection_twice_at_once(
    hooked: Hooked, django_capture_on_commit_callbacks: Any
) -> None:
    customer = hooked.pair.add_customer("Ann Lee", "ann@example.com")
    with django_capture_on_commit_callbacks():
        hooked.deliver(hooked.event_for(customer))
    lease = lease_acquire(connection_id=hooked.connection.pk, owner="another worker")
    assert lease is not None
    before = runs(hooked)
    with django_capture_on_commit_callbacks() as queued_again:
        assert wake_run(connection_id=hooked.connection.pk) == "busy"
    assert runs(hooked) == before
    assert pending(hooked) == [["a", customer, "1"]] and len(queued_again) == 1
    lease_release(lease)
    assert wake_run(connection_id=hooked.connection.pk, attempt=1) == "ran"
    assert runs(hooked) == before + 1
    assert hooked.pair.contact_by_email("ann@example.com")


def test_it_logs_no_receiver_key_when_it_refuses_a_delivery(
    hooked: Hooked, caplog: pytest.LogCaptureFixture
) -> None:
    customer = hooked.pair.add_customer("Ann Lee", "ann@example.com")
    with caplog.at_level("DEBUG"):
        response = hooked.deliver(hooked.event_for(customer), secret="not-the-token")
    assert response.status_code == 401
    assert "forged" in caplog.text
    assert hooked.url_key not in caplog.text
    assert SECRET not in caplog.text
