"""The demo account: its credentials (``DEMO_*``), two audiences and members drawn from the demo
people (so they overlap the Kustomer and Google demo accounts by email), some of whom unsubscribed
or bounced (cleaned), one archived."""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING, Any

from sandbox.demo_people import demo_people
from sandbox.mailchimp.app import DEFAULT_MERGE_FIELDS

if TYPE_CHECKING:
    from sandbox.mailchimp.app import MailchimpEmulator

DEMO_DC = "us19"
DEMO_API_KEY = "0123456789abcdef0123456789abcdef-us19"
DEMO_LOGIN = "demo@tandem.example"
DEMO_LIST_ID = "a6b5da1054"
DEMO_OTHER_LIST_ID = "b7c6eb2165"
DEMO_CLIENT_ID = "tandem-demo"
DEMO_CLIENT_SECRET = "tandem-demo-secret"
DEMO_COUNT = 200
DEMO_MERGE_FIELDS = (
    *DEFAULT_MERGE_FIELDS,
    ("COMPANY", "Company", "text", {}),
    ("TIER", "Loyalty tier", "dropdown", {"choices": ["bronze", "silver", "gold"]}),
    ("SPEND", "Total spent", "number", {}),
    ("JOINED", "Joined", "date", {"date_format": "YYYY-MM-DD"}),
)


def seed_demo(emulator: MailchimpEmulator, count: int = DEMO_COUNT) -> dict[str, Any]:
    """The demo account (``DEMO_API_KEY``, login ``DEMO_LOGIN``) with the audience
    ``DEMO_LIST_ID`` of ``count`` demo people and a small second audience."""
    rng = random.Random(42)
    base = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
    with emulator.lock:
        for key in [k for k in emulator.keys if k == DEMO_API_KEY]:
            old = emulator.accounts.pop(emulator.keys.pop(key))
            for list_id in old.audiences:
                emulator.audience_owner.pop(list_id, None)
        account, _ = emulator.create_account(
            DEMO_DC, name="Tandem Demo", login_email=DEMO_LOGIN, api_key=DEMO_API_KEY
        )
        emulator.add_client(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
        emulator.create_audience(
            account.user_id, "Newsletter", list_id=DEMO_LIST_ID, merge_fields=DEMO_MERGE_FIELDS
        )
        emulator.create_audience(account.user_id, "Product updates", list_id=DEMO_OTHER_LIST_ID)
        frozen = emulator.clock.frozen
        statuses = {"subscribed": 0, "unsubscribed": 0, "cleaned": 0, "pending": 0}
        try:
            for index, person in enumerate(demo_people(count, seed=42)):
                emulator.freeze_clock(base + dt.timedelta(minutes=5 * index))
                status = rng.choices(
                    ["subscribed", "unsubscribed", "cleaned", "pending"], weights=[80, 10, 5, 5]
                )[0]
                merge: dict[str, Any] = {
                    "FNAME": person.first_name,
                    "LNAME": person.last_name,
                    "PHONE": person.phones[0],
                    "TIER": rng.choice(["bronze", "silver", "gold"]),
                    "SPEND": round(rng.uniform(0, 900), 2),
                }
                if person.company:
                    merge["COMPANY"] = person.company
                tags = rng.choice([[], [], ["newsletter"], ["vip", "newsletter"]])
                body = {"email_address": person.emails[0], "merge_fields": merge, "tags": tags}
                emulator.add_member(DEMO_LIST_ID, {**body, "status": "subscribed"})
                if status in ("unsubscribed", "cleaned"):
                    emulator.unsubscribe(
                        DEMO_LIST_ID, person.emails[0], cleaned=status == "cleaned"
                    )
                elif status == "pending":
                    member = emulator.audience(DEMO_LIST_ID).members
                    member[next(reversed(member))]["status"] = "pending"
                statuses[status] += 1
                if index < 20 and index % 4 == 0:
                    names = {k: merge[k] for k in ("FNAME", "LNAME")}
                    emulator.add_member(
                        DEMO_OTHER_LIST_ID,
                        {
                            "email_address": person.emails[0],
                            "merge_fields": names,
                            "status": "subscribed",
                        },
                    )
            emulator.archive(DEMO_LIST_ID, demo_people(count, seed=42)[1].emails[0])
        finally:
            emulator.freeze_clock(frozen)
    return {"dc": DEMO_DC, "audiences": [DEMO_LIST_ID, DEMO_OTHER_LIST_ID], **statuses}
