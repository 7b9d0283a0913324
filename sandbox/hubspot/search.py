"""``POST /crm/v3/objects/contacts/search``: the body's rules and the matching, as api-notes §3.3
states them.

Filter groups are ORed, filters inside a group ANDed; at most 5 groups, 10 filters a group, 25
in all (since Aug 2024); ``limit`` at most 200; ``after`` is an offset and a query answers at
most 10,000 results (reading past them answers 400); one sort; archived contacts never match.
Comparisons follow the property's type: numbers numerically, dates and date-times as instants
(the value as epoch milliseconds or ISO), text case-insensitively.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sandbox.hubspot.errors import ApiError, invalid
from sandbox.hubspot.properties import DEFAULT_ANSWERED, parse_instant

OPERATORS = frozenset(
    {
        "EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY",
        "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN",
    }
)  # fmt: skip
MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 10
MAX_FILTERS = 25
MAX_LIMIT = 200
MAX_RESULTS = 10_000
MAX_QUERY = 3000
# The properties a free-text ``query`` looks in.
QUERY_PROPERTIES = ("firstname", "lastname", "email", "phone", "company", "mobilephone")


class Search:
    """A checked search body."""

    def __init__(self, body: Any, props: Mapping[str, dict[str, Any]]) -> None:
        if not isinstance(body, dict):
            raise invalid("Invalid input JSON on line 1: the body must be an object")
        self.props = props
        groups = body.get("filterGroups") or []
        if not isinstance(groups, list):
            raise invalid("filterGroups must be an array")
        if len(groups) > MAX_GROUPS:
            raise _limit(f"Too many filter groups ({len(groups)}); the limit is {MAX_GROUPS}.")
        self.groups: list[list[dict[str, Any]]] = []
        total = 0
        for group in groups:
            filters = group.get("filters") if isinstance(group, dict) else None
            if not isinstance(filters, list):
                raise invalid("each filter group needs a filters array")
            if len(filters) > MAX_FILTERS_PER_GROUP:
                raise _limit(
                    f"Too many filters in a group ({len(filters)}); the limit is "
                    f"{MAX_FILTERS_PER_GROUP}."
                )
            total += len(filters)
            self.groups.append([self._filter(f) for f in filters])
        if total > MAX_FILTERS:
            raise _limit(f"Too many filters ({total}); the limit is {MAX_FILTERS}.")
        self.sorts = self._sorts(body.get("sorts") or [])
        limit = body.get("limit", 10)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise invalid("limit must be a positive integer")
        if limit > MAX_LIMIT:
            raise invalid(f"limit must be less than or equal to {MAX_LIMIT}")
        self.limit = limit
        after = body.get("after", "0") or "0"
        if not re.fullmatch(r"\d{1,9}", str(after)):
            raise invalid(f"after must be a paging cursor, not {str(after)[:40]!r}")
        self.offset = int(str(after))
        if self.offset + self.limit > MAX_RESULTS:
            raise invalid(
                f"The search can page through at most {MAX_RESULTS} results "
                f"(after={self.offset}, limit={self.limit}); narrow the query instead."
            )
        query = body.get("query") or ""
        if not isinstance(query, str) or len(query) > MAX_QUERY:
            raise invalid(f"query must be a string of at most {MAX_QUERY} characters")
        self.query = query.casefold().strip()
        names = body.get("properties") or list(DEFAULT_ANSWERED)
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise invalid("properties must be an array of property names")
        self.properties = names

    def _filter(self, item: Any) -> dict[str, Any]:
        if not isinstance(item, dict):
            raise invalid("a filter must be an object")
        name, operator = item.get("propertyName"), item.get("operator")
        if not isinstance(name, str) or not name:
            raise invalid("a filter needs a propertyName")
        if operator not in OPERATORS:
            raise invalid(
                f"Invalid operator {str(operator)[:40]!r}; "
                f"use one of {', '.join(sorted(OPERATORS))}"
            )
        if name not in self.props and name != "hs_object_id":
            raise invalid(f"Unknown property: {name}")
        if operator in ("IN", "NOT_IN"):
            values = item.get("values")
            if not isinstance(values, list) or not values:
                raise invalid(f"{operator} needs a values array")
        elif operator == "BETWEEN":
            if item.get("value") is None or item.get("highValue") is None:
                raise invalid("BETWEEN needs a value and a highValue")
        elif operator not in ("HAS_PROPERTY", "NOT_HAS_PROPERTY") and item.get("value") is None:
            raise invalid(f"{operator} needs a value")
        return item

    def _sorts(self, sorts: Any) -> list[tuple[str, bool]]:
        if not isinstance(sorts, list):
            raise invalid("sorts must be an array")
        if len(sorts) > 1:
            raise invalid("Only one sort is supported")
        found = []
        for sort in sorts:
            if isinstance(sort, str):
                # The short form HubSpot also takes: a property name, "-" first for descending.
                name, descending = sort.lstrip("-"), sort.startswith("-")
            elif isinstance(sort, dict) and isinstance(sort.get("propertyName"), str):
                direction = sort.get("direction", "ASCENDING")
                if direction not in ("ASCENDING", "DESCENDING"):
                    raise invalid("direction must be ASCENDING or DESCENDING")
                name, descending = sort["propertyName"], direction == "DESCENDING"
            else:
                raise invalid("a sort needs a propertyName")
            if name not in self.props:
                raise invalid(f"Unknown property: {name}")
            found.append((name, descending))
        return found

    # ---- matching --------------------------------------------------------------------------

    def matches(self, props: Mapping[str, str]) -> bool:
        if self.query and not any(
            self.query in str(props.get(name) or "").casefold() for name in QUERY_PROPERTIES
        ):
            return False
        if not self.groups:
            return True
        return any(all(self._holds(f, props) for f in group) for group in self.groups)

    def _holds(self, item: Mapping[str, Any], props: Mapping[str, str]) -> bool:
        name, operator = item["propertyName"], item["operator"]
        have = props.get(name)
        if operator == "HAS_PROPERTY":
            return bool(have)
        if operator == "NOT_HAS_PROPERTY":
            return not have
        if operator in ("IN", "NOT_IN"):
            wanted = {self._key(name, str(v)) for v in item["values"]}
            inside = have is not None and have != "" and self._key(name, have) in wanted
            return inside if operator == "IN" else not inside
        if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            pattern = re.escape(str(item["value"]).casefold()).replace(r"\*", ".*")
            text = str(have or "").casefold()
            tokens = [*re.split(r"[\s@.,;]+", text), text]
            found = any(re.fullmatch(pattern, t) for t in tokens if t)
            return found if operator == "CONTAINS_TOKEN" else not found
        if not have:
            return operator == "NEQ"
        left = self._key(name, have)
        right = self._key(name, str(item["value"]))
        if operator == "BETWEEN":
            high = self._key(name, str(item["highValue"]))
            return _cmp(left, right) >= 0 and _cmp(left, high) <= 0
        order = _cmp(left, right)
        return {
            "EQ": order == 0,
            "NEQ": order != 0,
            "LT": order < 0,
            "LTE": order <= 0,
            "GT": order > 0,
            "GTE": order >= 0,
        }[operator]

    def _key(self, name: str, text: str) -> Any:
        kind = (self.props.get(name) or {}).get("type", "number" if name == "hs_object_id" else "")
        if kind == "number":
            try:
                return float(text)
            except ValueError:
                return text.casefold()
        if kind in ("date", "datetime"):
            when = parse_instant(text)
            return when.timestamp() if when is not None else text
        return text.casefold()

    def sort_key(self, contact: Mapping[str, Any]) -> Any:
        if not self.sorts:
            return (int(contact["id"]),)
        name, _ = self.sorts[0]
        value = contact["properties"].get(name)
        missing = value in (None, "")
        return (missing, _sortable(self._key(name, value or "")), int(contact["id"]))

    @property
    def descending(self) -> bool:
        return bool(self.sorts and self.sorts[0][1])


def _sortable(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, int | float) else (1, str(value))


def _cmp(left: Any, right: Any) -> int:
    if type(left) is not type(right):
        left, right = str(left), str(right)
    return (left > right) - (left < right)


def _limit(message: str) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message, sub_category="SEARCH_FILTER_LIMIT_EXCEEDED")
