"""An in-memory Mailchimp Marketing API, faithful to the parts Tandem calls, split by concern:
``app`` (the store's routes, control methods and knobs), ``audiences`` (audiences, merge fields,
members and their rules), ``schema`` (request bodies against the published document), ``oauth``
(consent page, token and metadata endpoints), ``errors`` (problem+json) and ``seed`` (the demo
account)."""

from sandbox.mailchimp.app import DEFAULT_MERGE_FIELDS, MailchimpEmulator
from sandbox.mailchimp.audiences import COMPLIANCE, STATUSES, subscriber_hash
from sandbox.mailchimp.errors import ApiError
from sandbox.mailchimp.seed import (
    DEMO_API_KEY,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_DC,
    DEMO_LIST_ID,
    DEMO_LOGIN,
    DEMO_OTHER_LIST_ID,
    seed_demo,
)

__all__ = [
    "COMPLIANCE",
    "DEFAULT_MERGE_FIELDS",
    "DEMO_API_KEY",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_DC",
    "DEMO_LIST_ID",
    "DEMO_LOGIN",
    "DEMO_OTHER_LIST_ID",
    "STATUSES",
    "ApiError",
    "MailchimpEmulator",
    "seed_demo",
    "subscriber_hash",
]
