"""``POST /v1/customers/search``: the body checked against the official document and then the
criteria themselves (attributes, operators, value types, time zones), matching and sorting.

Criteria are ``{"<attribute>": {"<operator>": value}}`` in ``and`` / ``or`` / ``not`` (an object
or up to 20), nested groups allowed; operators ``equals``, ``contains`` (whole words),
``in``, ``gte``, ``gt``, ``lte``, ``lt``, ``not_set``. ``customer_created_by`` and
``customer_modified_by`` (the document's ``user`` attributes, operator ``list``) take a user id
with ``equals``, ``in`` or ``not_set``: "modified last by anyone but X" is
``{"not": {"customer_modified_by": {"equals": X}}}``. A date bound is an ISO date-time with a
zone (taken as is) or a local ``YYYY-MM-DD`` date (or zone-less date-time) read in ``timeZone``,
GMT by default (api-notes §1.6). Anything else answers 400, never a server error.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo
from collections.abc import Callable, Mapping
from typing import Any

from sandbox.kit import parse_iso
from sandbox.kustomer import schema
from sandbox.kustomer.customers import digits
from sandbox.kustomer.errors import bad_request

OPERATORS = frozenset({"equals", "contains", "in", "gte", "gt", "lte", "lt", "not_set"})
RANGE_OPERATORS = frozenset({"gte", "gt", "lte", "lt"})
GROUPS = ("and", "or", "not")
MAX_CRITERIA = 20
MAX_SORTS = 5
DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")

# attribute -> kind ("string", "datetime", "number", "boolean", "list")
ATTRIBUTES: dict[str, str] = {
    "customer_name": "string",
    "customer_email": "string",
    "customer_shared_email": "string",
    "customer_phone": "string",
    "customer_externalId": "string",
    "customer_created_at": "datetime",
    "customer_updated_at": "datetime",
    "customer_modified_at": "datetime",
    "customer_tags": "list",
    "customer_status": "list",
    "customer_sentiment": "list",
    "customer_conversations_count": "number",
    "customer_imported": "boolean",
    "customer_created_by": "user",
    "customer_modified_by": "user",
}
# The standard attributes schema's ``definitions.user`` (the search operation's description in
# the OpenAPI document): a 24-hex-digit id holding a digit and a letter.
USER_ID = re.compile(r"^(?=[A-Fa-f\d]{24}$)(\d+[A-Fa-f]|[A-Fa-f]+\d)")
USER_OPERATORS = frozenset({"equals", "in", "not_set"})
CUSTOM_KINDS = {
    "Str": "string", "Txt": "string", "Url": "string",
    "Num": "number", "Bool": "boolean", "At": "datetime",
}  # fmt: skip
STATUSES = ("snoozed", "open", "done")
SENTIMENTS = {1: "happy", -1: "unhappy", 0: "indifferent"}

# Sortable attributes (api-notes §1.6) -> the rendered value they sort by.
SORTABLE: dict[str, Callable[[dict[str, Any]], Any]] = {
    "customer_name": lambda d: d["attrs"].get("name"),
    "customer_gender": lambda d: d["attrs"].get("gender"),
    "customer_created_at": lambda d: parse_iso(d["createdAt"]),
    "customer_updated_at": lambda d: parse_iso(d["updatedAt"]),
    "customer_modified_at": lambda d: parse_iso(d["modifiedAt"]),
    "customer_externalId": lambda d: d["attrs"].get("externalId"),
    "customer_activity_at": lambda d: parse_iso(d["updatedAt"]),
    "customer_last_seen_at": lambda d: parse_iso(d["createdAt"]),
    "customer_signed_up_at": lambda d: d["attrs"].get("signedUpAt"),
    "customer_lastmessage_preview": lambda d: "",
    "customer_progressive_status": lambda d: "open" if d["conversationCounts"]["open"] else "done",
    "customer_done": lambda d: d["conversationCounts"]["done"],
    "customer_open": lambda d: d["conversationCounts"]["open"],
    "customer_snoozed": lambda d: d["conversationCounts"]["snoozed"],
    "customer_last_message_sent_at": lambda d: parse_iso(d["createdAt"]),
    "customer_last_message_out_sent_at": lambda d: parse_iso(d["createdAt"]),
    "customer_last_message_unresponded_to_sent_at": lambda d: parse_iso(d["createdAt"]),
    "customer_last_message_at": lambda d: parse_iso(d["createdAt"]),
}


class Query:
    """A checked search body: ``matches(doc)`` and ``sort_keys``."""

    def __init__(self, body: Any) -> None:
        schema.check("search", body)
        assert isinstance(body, dict)
        if body.get("queryContext") != "customer":
            raise bad_request("queryContext must be customer", "/queryContext")
        self.body = body
        self.include_deleted = bool(body.get("includeDeleted"))
        zone_name = body.get("timeZone")
        try:
            self.zone: dt.tzinfo = zoneinfo.ZoneInfo(zone_name) if zone_name else dt.UTC
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise bad_request(f"Unknown time zone {zone_name}", "/timeZone") from None
        self.groups: list[tuple[str, list[Any]]] = []
        for kind in GROUPS:
            if kind in body:
                self.groups.append((kind, self._group(body[kind], f"/{kind}")))
        self.sorts = self._sorts(body.get("sort"))

    # ---- checking ------------------------------------------------------------------------

    def _group(self, criteria: Any, pointer: str) -> list[Any]:
        items = [criteria] if isinstance(criteria, dict) else criteria
        if not isinstance(items, list):
            raise bad_request("a criteria group must be an object or an array", pointer)
        if len(items) > MAX_CRITERIA:
            raise bad_request(f"at most {MAX_CRITERIA} criteria in a group", pointer)
        checked = []
        for index, item in enumerate(items):
            where = pointer if isinstance(criteria, dict) else f"{pointer}/{index}"
            if not isinstance(item, dict):
                raise bad_request("a criterion must be an object", where)
            checked.append(self._criterion(item, where))
        return checked

    def _criterion(self, criterion: dict[str, Any], pointer: str) -> list[Any]:
        parts: list[Any] = []
        for attr, ops in criterion.items():
            where = f"{pointer}/{attr}"
            if attr in GROUPS:
                parts.append(("group", attr, self._group(ops, where)))
                continue
            kind = attribute_kind(attr, where)
            if not isinstance(ops, dict) or not ops:
                raise bad_request(f"{attr} needs an object of operators", where)
            for op, value in ops.items():
                parts.append(
                    ("test", attr, kind, op, self._value(kind, op, value, f"{where}/{op}"))
                )
        return parts

    def _value(self, kind: str, op: str, value: Any, pointer: str) -> Any:
        if op not in OPERATORS:
            raise bad_request(f"Unknown operator {op}", pointer)
        if kind == "user" and op not in USER_OPERATORS:
            raise bad_request(f"{op} does not apply to a user attribute", pointer)
        if op == "not_set":
            if value not in ("", True, None):
                raise bad_request("not_set takes an empty string", pointer)
            return None
        if op == "in":
            if not isinstance(value, list) or not value:
                raise bad_request("in takes a non-empty array", pointer)
            return [
                self._scalar(kind, item, f"{pointer}/{index}") for index, item in enumerate(value)
            ]
        if op == "contains" and kind not in ("string", "list"):
            raise bad_request("contains takes a text attribute", pointer)
        if op in RANGE_OPERATORS and kind not in ("datetime", "number", "string"):
            raise bad_request(f"{op} needs a date, number or text attribute", pointer)
        return self._scalar(kind, value, pointer)

    def _scalar(self, kind: str, value: Any, pointer: str) -> Any:
        if kind == "datetime":
            return self._moment(value, pointer)
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise bad_request("a number is needed", pointer)
            return value
        if kind == "boolean":
            if not isinstance(value, bool):
                raise bad_request("true or false is needed", pointer)
            return value
        if not isinstance(value, str):
            raise bad_request("a string is needed", pointer)
        if kind == "user" and not USER_ID.match(value):
            raise bad_request("a user id (24 hexadecimal digits) is needed", pointer)
        return value

    def _moment(self, value: Any, pointer: str) -> dt.datetime:
        if not isinstance(value, str) or not (DATE_ONLY.match(value) or DATE_TIME.match(value)):
            raise bad_request("a date (YYYY-MM-DD) or an ISO 8601 date-time is needed", pointer)
        try:
            if DATE_ONLY.match(value):
                return dt.datetime.fromisoformat(value).replace(tzinfo=self.zone)
            moment = parse_iso(value)
        except ValueError:
            raise bad_request(f"{value} is not a valid date", pointer) from None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=self.zone)

    def _sorts(self, sort: Any) -> list[tuple[str, bool]]:
        if sort is None:
            return []
        items = [sort] if isinstance(sort, dict) else sort
        if not isinstance(items, list) or len(items) > MAX_SORTS:
            raise bad_request(f"sort takes an object or up to {MAX_SORTS}", "/sort")
        sorts = []
        for item in items:
            if not isinstance(item, dict):
                raise bad_request("a sort must be an object", "/sort")
            for attr, direction in item.items():
                if attr not in SORTABLE:
                    raise bad_request(f"Cannot sort by {attr}", f"/sort/{attr}")
                if direction not in ("asc", "desc"):
                    raise bad_request("a sort direction is asc or desc", f"/sort/{attr}")
                sorts.append((attr, direction == "desc"))
        return sorts

    # ---- matching ------------------------------------------------------------------------

    def matches(self, doc: dict[str, Any]) -> bool:
        return all(_group_holds(doc, kind, parts) for kind, parts in self.groups)

    @property
    def narrowed(self) -> bool:
        """Whether the search has a ``not`` group (``updated_since`` allows one)."""
        return "not" in self.body

    def updated_since(self) -> dt.datetime | None:
        """The bound of a search that is "customer_updated_at >= bound (or none), oldest
        first", narrowed or not by a ``not`` group, which the change-ordered index answers (the
        caller then keeps the records that ``matches``); None for any other search."""
        allowed = {"queryContext", "sort", "includeDeleted", "and", "not", "timeZone"}
        if set(self.body) - allowed:
            return None
        if self.sorts != [("customer_updated_at", False)]:
            return None
        groups = [(kind, criteria) for kind, criteria in self.groups if kind != "not"]
        if not groups:
            return dt.datetime.min.replace(tzinfo=dt.UTC)
        if len(groups) != 1 or len(groups[0][1]) != 1:
            return None
        parts = groups[0][1][0]
        if len(parts) != 1 or parts[0][0] != "test":
            return None
        _, attr, _, op, value = parts[0]
        if attr != "customer_updated_at" or op != "gte":
            return None
        moment: dt.datetime = value
        return moment

    def excluded_modifiers(self) -> frozenset[str] | None:
        """The users whose last changes the ``not`` group leaves out, when that is all it
        does (each criterion ``customer_modified_by`` ``equals`` or ``in``); None otherwise."""
        excluded: set[str] = set()
        for kind, criteria in self.groups:
            if kind != "not":
                continue
            for parts in criteria:
                if len(parts) != 1 or parts[0][0] != "test":
                    return None
                _, attr, _, op, value = parts[0]
                if attr != "customer_modified_by" or op not in ("equals", "in"):
                    return None
                excluded.update(value if op == "in" else [value])
        return frozenset(excluded) if excluded else None

    def sort(self, docs: list[dict[str, Any]]) -> None:
        """By id, then by each sort from the last to the first (stable sorts)."""
        docs.sort(key=lambda d: d["id"])
        for attr, descending in reversed(self.sorts):
            value = SORTABLE[attr]
            docs.sort(key=lambda d: _comparable(value(d)), reverse=descending)


def attribute_kind(attr: str, pointer: str) -> str:
    if attr in ATTRIBUTES:
        return ATTRIBUTES[attr]
    if attr.startswith("customer_custom_"):
        name = attr[len("customer_custom_") :]
        suffix = next((s for s in CUSTOM_KINDS if name.endswith(s) and len(name) > len(s)), "")
        if suffix:
            return CUSTOM_KINDS[suffix]
    raise bad_request(f"Unknown search attribute {attr}", pointer)


def _comparable(value: Any) -> tuple[int, Any]:
    """Sort values of mixed types without comparing across types (None first)."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, (int, float)):
        return (1, value)
    if isinstance(value, dt.datetime):
        return (2, value.timestamp())
    if isinstance(value, str):
        return (3, value)
    return (4, json.dumps(value, sort_keys=True, default=str))


def values(doc: dict[str, Any], attr: str) -> list[Any]:
    """The customer's values of a search attribute, from what is stored (odd values skipped)."""
    attrs = doc["attrs"]
    counts = doc["conversationCounts"]

    def texts(key: str, item_key: str) -> list[str]:
        items = attrs.get(key)
        if not isinstance(items, list):
            return []
        return [
            i[item_key] for i in items if isinstance(i, dict) and isinstance(i.get(item_key), str)
        ]

    if attr in ("customer_updated_at", "customer_modified_at"):
        return [parse_iso(doc["updatedAt"])]
    if attr == "customer_created_at":
        return [parse_iso(doc["createdAt"])]
    if attr == "customer_email":
        return [e.casefold() for e in texts("emails", "email")]
    if attr == "customer_shared_email":
        return [e.casefold() for e in texts("sharedEmails", "email")]
    if attr == "customer_phone":
        return [digits(p) for p in texts("phones", "phone")]
    if attr == "customer_externalId":
        external = attrs.get("externalId")
        return [external] if isinstance(external, str) and external else []
    if attr == "customer_name":
        name = attrs.get("name")
        return [name] if isinstance(name, str) and name else []
    if attr == "customer_tags":
        tags = attrs.get("tags")
        return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []
    if attr == "customer_status":
        return [status for status in STATUSES if counts.get(status)]
    if attr == "customer_sentiment":
        sentiment = attrs.get("sentiment")
        polarity = sentiment.get("polarity") if isinstance(sentiment, dict) else None
        return [SENTIMENTS[polarity]] if polarity in SENTIMENTS else []
    if attr == "customer_conversations_count":
        return [counts.get("all", 0)]
    if attr == "customer_imported":
        return [bool(attrs.get("importedAt"))]
    if attr == "customer_created_by":
        return [doc["createdBy"]]
    if attr == "customer_modified_by":
        return [doc["modifiedBy"]]
    custom = attrs.get("custom")
    value = custom.get(attr[len("customer_custom_") :]) if isinstance(custom, dict) else None
    if value is None:
        return []
    if attr.endswith("At"):
        try:
            return [parse_iso(value)] if isinstance(value, str) else []
        except ValueError:
            return []
    return [value]


def _normalize(attr: str, value: Any) -> Any:
    if attr in ("customer_email", "customer_shared_email") and isinstance(value, str):
        return value.casefold()
    if attr == "customer_phone" and isinstance(value, str):
        return digits(value)
    return value


def _contains(haystack: Any, needle: str) -> bool:
    """Whole words only: ``test`` does not match ``testAnotherRecord`` (api-notes §1.6)."""
    if not isinstance(haystack, str) or not needle.strip():
        return False
    pattern = r"(?<!\w)" + re.escape(needle.casefold()) + r"(?!\w)"
    return re.search(pattern, haystack.casefold()) is not None


def _compare(op: str, point: Any, bound: Any) -> bool:
    if type(point) is not type(bound) and not (
        isinstance(point, (int, float)) and isinstance(bound, (int, float))
    ):
        return False
    return {
        "gte": point >= bound,
        "gt": point > bound,
        "lte": point <= bound,
        "lt": point < bound,
    }[op]


def _test(doc: dict[str, Any], attr: str, op: str, value: Any) -> bool:
    found = values(doc, attr)
    if op == "not_set":
        return not found
    if op == "in":
        wanted = [_normalize(attr, v) for v in value]
        return any(v == w for v in found for w in wanted)
    if op == "equals":
        return _normalize(attr, value) in found
    if op == "contains":
        return any(_contains(v, value) for v in found)
    return any(_compare(op, point, value) for point in found)


def _parts_hold(doc: dict[str, Any], parts: list[Any]) -> bool:
    for part in parts:
        if part[0] == "group":
            if not _group_holds(doc, part[1], part[2]):
                return False
        elif not _test(doc, part[1], part[3], part[4]):
            return False
    return True


def _group_holds(doc: dict[str, Any], kind: str, criteria: list[Any]) -> bool:
    results = [_parts_hold(doc, parts) for parts in criteria]
    if kind == "and":
        return all(results)
    if kind == "or":
        return any(results) if results else True
    return not any(results)


def check_page_args(args: Mapping[str, str], max_pages: int, max_size: int) -> tuple[int, int]:
    """``page`` and ``pageSize`` query parameters: integers, page within the cap."""
    try:
        page = int(args.get("page", "1"))
        size = int(args.get("pageSize", "100"))
    except ValueError:
        raise bad_request("page and pageSize must be integers", parameter="page") from None
    if page < 1 or size < 1:
        raise bad_request("page and pageSize must be >= 1", parameter="page")
    if page > max_pages:
        raise bad_request(f"page must be <= {max_pages}; narrow the query", parameter="page")
    return page, min(size, max_size)
