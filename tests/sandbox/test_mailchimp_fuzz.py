"""Malformed input never breaks the Mailchimp emulator: generated bodies and query strings, valid
and invalid, for every member operation Tandem calls, never get a server error, every refusal is
Mailchimp's problem+json 4xx, and a refused write stores nothing. Bounded and deterministic (few
examples per operation, derandomized, no example database)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.mailchimp import DEFAULT_MERGE_FIELDS, MailchimpEmulator
from sandbox.server import Sandbox

SANDBOX_APPS = ["mailchimp"]

KEY = "fa" * 16 + "-us3"
LIST = "fuzz000001"
EXAMPLES = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
    st.sampled_from(
        [
            "",
            "subscribed",
            "unsubscribed",
            "archived",
            "x@y.example",
            "FNAME",
            "active",
            "not an email",
            "2026-02-30",
            "12/31",
            "\u0000",
            "a" * 300,
        ]
    ),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
member_keys = st.sampled_from(
    [
        "email_address",
        "status",
        "status_if_new",
        "merge_fields",
        "tags",
        "vip",
        "language",
        "email_type",
        "interests",
        "location",
    ]
)
merge_values = st.dictionaries(
    st.sampled_from(["FNAME", "LNAME", "ADDRESS", "PHONE", "BIRTHDAY", "NOPE"]),
    json_values,
    max_size=3,
)
member_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"email_address": st.sampled_from(["a@x.example", "bad", "", "B@X.example"])},
        optional={
            "status": scalars,
            "status_if_new": scalars,
            "merge_fields": merge_values,
            "tags": json_values,
        },
    ),
    st.dictionaries(member_keys, json_values, max_size=4),
)


@pytest.fixture
def emulator(sandbox: Sandbox) -> MailchimpEmulator:
    emulator: MailchimpEmulator = sandbox.emulator("mailchimp")
    emulator.reset()
    account, _ = emulator.create_account("us3", name="Fuzz", login_email="f@x.example", api_key=KEY)
    emulator.create_audience(
        account.user_id, "Fuzz", list_id=LIST, merge_fields=DEFAULT_MERGE_FIELDS
    )
    emulator.add_member(LIST, {"email_address": "a@x.example", "status": "subscribed"})
    return emulator


def send(sandbox: Sandbox, method: str, path: str, **kwargs: Any) -> requests.Response:
    url = sandbox.base_url("mailchimp") + f"/us3/3.0/lists/{LIST}" + path
    return requests.request(method, url, auth=("f", KEY), timeout=5, **kwargs)


def state(emulator: MailchimpEmulator) -> str:
    return json.dumps(emulator.members(LIST), sort_keys=True)


def check(response: requests.Response, before: str, emulator: MailchimpEmulator) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert response.json()["status"] == response.status_code
        assert state(emulator) == before


OPERATIONS = [
    ("POST", "/members"),
    ("PUT", "/members/a@x.example"),
    ("PATCH", "/members/a@x.example"),
    ("POST", "/members/a@x.example/tags"),
    ("POST", ""),
]


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_generated_bodies_never_get_a_server_error_and_refusals_store_nothing(
    sandbox: Sandbox, emulator: MailchimpEmulator, method: str, path: str
) -> None:
    @EXAMPLES
    @given(body=member_bodies)
    def run(body: Any) -> None:
        before = state(emulator)
        if path == "":
            body = {"members": [body] if isinstance(body, dict) else body}
        if path.endswith("/tags") and isinstance(body, dict):
            body = {"tags": [body]}
        check(send(sandbox, method, path, json=body), before, emulator)

    run()


@EXAMPLES
@given(
    params=st.dictionaries(
        st.sampled_from(
            [
                "count",
                "offset",
                "status",
                "since_last_changed",
                "sort_field",
                "sort_dir",
                "fields",
                "exclude_fields",
                "unsubscribed_since",
            ]
        ),
        st.sampled_from(
            [
                "",
                "-1",
                "5",
                "1001",
                "abc",
                "archived",
                "last_changed",
                "DESC",
                "2026-01-01T00:00:00+00:00",
                "members.id",
                "members..",
                "2026-13-45",
            ]
        ),
        max_size=4,
    )
)
def test_generated_listing_queries_never_get_a_server_error(
    sandbox: Sandbox, emulator: MailchimpEmulator, params: dict[str, str]
) -> None:
    response = send(sandbox, "GET", "/members", params=params)
    assert response.status_code < 500, response.text
    assert response.status_code in (200, 400)
