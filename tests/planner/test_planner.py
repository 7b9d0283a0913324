"""The planner's decisions, from plain data: no database, no app (DESIGN.md §4)."""

from __future__ import annotations

from integrations.sync.conditions import EXISTS_IN_OTHER, ConditionData
from integrations.sync.config import RuleConfig
from integrations.sync.planner import TRASH_TAG, UNSUBSCRIBE_TAG, PageInput, Plan, plan_page
from integrations.sync.state import Link
from tests.planner.builders import company_is, config, contact, linked_page, names, new_page, rule


def synced_link(**snapshot_b: str) -> Link:
    """Ann, synced: a1 on A (full name) with b1 on B (split name)."""
    return Link(
        id_a="a1",
        id_b="b1",
        version_a="1",
        version_b="1",
        snapshot={
            "a": {"emails": ["ann@example.com"], "name": "Mary Ann Smith", "company": "Acme"},
            "b": {
                "emails": ["ann@example.com"],
                "name": {"first": "Mary Ann", "last": "Smith"},
                "company": "Acme",
                **snapshot_b,
            },
        },
        pk=1,
    )


def ann_a(**values: object) -> dict[str, object]:
    return {"full_name": "Mary Ann Smith", "company": "Acme", **values}


def ann_b(**values: object) -> dict[str, object]:
    return {"first_name": "Mary Ann", "last_name": "Smith", "company": "Acme", **values}


# -- New records --------------------------------------------------------------------------------


def test_it_creates_a_record_missing_on_the_other_side_with_the_mapped_values() -> None:
    plan = new_page(config(), "a", [contact("a1", "ann@example.com", **ann_a())])
    [create] = plan.creates
    assert (create.target, create.values) == (
        "b",
        {
            "emails": ["ann@example.com"],
            "first_name": "Mary Ann",
            "last_name": "Smith",
            "company": "Acme",
        },
    )


def test_it_links_a_record_holding_the_same_email_instead_of_creating_it() -> None:
    plan = new_page(
        config(),
        "a",
        [contact("a1", "Ann@Example.com", **ann_a())],
        theirs=[contact("b1", "ann@example.com", **ann_b())],
    )
    assert (plan.creates, names(plan, "links")) == (
        [],
        [{"id_a": "a1", "id_b": "b1", "how": "email"}],
    )


def test_it_excludes_contacts_without_an_email_when_avoiding_duplicates() -> None:
    plan = new_page(config(), "a", [contact("a1", None, full_name="Ann")])
    assert (plan.creates, names(plan, "excluded")) == (
        [],
        [{"side": "a", "id": "a1", "reason": "no email"}],
    )


def test_it_creates_contacts_without_an_email_when_not_avoiding_duplicates() -> None:
    plan = new_page(config(avoid_duplicates=False), "a", [contact("a1", None, full_name="Ann")])
    assert [c.record.id for c in plan.creates] == ["a1"]


def test_it_reports_two_records_with_one_email_on_a_side_as_duplicates() -> None:
    plan = new_page(
        config(), "a", [contact("a1", "ann@example.com"), contact("a2", "ANN@example.com")]
    )
    assert (plan.creates, [d["id"] for d in names(plan, "duplicates")]) == ([], ["a1", "a2"])


def test_it_reports_a_record_matching_two_on_the_other_side_as_a_duplicate() -> None:
    plan = new_page(
        config(),
        "a",
        [contact("a1", "ann@example.com")],
        theirs=[contact("b1", "ann@example.com"), contact("b2", "ann@example.com")],
    )
    assert (plan.creates, plan.pairs, len(names(plan, "duplicates"))) == ([], [], 1)


def test_it_creates_a_record_whose_match_was_deleted_meanwhile() -> None:
    plan = new_page(
        config(),
        "a",
        [contact("a1", "ann@example.com")],
        theirs=[contact("b1", "ann@example.com", deleted=True)],
    )
    assert [c.record.id for c in plan.creates] == ["a1"]


# -- Rules and actions --------------------------------------------------------------------------


def test_it_syncs_a_contact_matching_any_rule_of_the_direction() -> None:
    rules = {"a": [rule("a", 1, conditions=[company_is("Acme")]),
                   rule("a", 2, conditions=[company_is("Globex")])], "b": []}  # fmt: skip
    records = [
        contact(f"a-{company}", f"{company}@example.com", company=company)
        for company in ("Acme", "Globex", "Initech")
    ]
    plan = new_page(config(rules=rules), "a", records)
    assert ([c.record.id for c in plan.creates], [e["id"] for e in names(plan, "excluded")]) == (
        ["a-Acme", "a-Globex"],
        ["a-Initech"],
    )


def test_it_never_creates_through_an_already_existing_rule() -> None:
    exists = rule("a", conditions=[_exists()])
    plan = new_page(config(rules={"a": [exists], "b": []}), "a", [contact("a1", "a@x.example")])
    assert (plan.creates, len(names(plan, "excluded"))) == ([], 1)


def test_it_updates_through_an_already_existing_rule() -> None:
    exists = rule("a", conditions=[_exists()])
    plan = new_page(
        config(rules={"a": [exists], "b": []}),
        "a",
        [contact("a1", "ann@example.com", full_name="Ann Lee", company="Acme")],
        theirs=[contact("b1", "ann@example.com", first_name="Ann", last_name="Lee")],
    )
    [pair] = plan.pairs
    assert pair.merged.changes["b"] == {"company": "Acme"}


def test_it_applies_a_rules_actions_to_the_record_it_creates() -> None:
    actions = [
        {"kind": "add_tag", "value": "From Alpha"},
        {"kind": "set_field", "field": "job_title", "value": "Customer"},
    ]
    plan = new_page(
        config(rules={"a": [rule("a", actions=actions)], "b": []}),
        "a",
        [contact("a1", "ann@example.com")],
    )
    [create] = plan.creates
    assert (create.add_tags, create.values["job_title"]) == (["From Alpha"], "Customer")


def _tag_rule(*, undo: bool) -> dict[str, list[RuleConfig]]:
    return {
        "a": [
            rule(
                "a",
                7,
                conditions=[company_is("Acme")],
                actions=[{"kind": "add_tag", "value": "Acme customer"}],
                undo=undo,
            )
        ],
        "b": [],
    }


def _left_acme(link: Link, *, undo: bool) -> Plan:
    return linked_page(
        config(rules=_tag_rule(undo=undo)),
        "a",
        [(contact("a1", "ann@example.com", **ann_a(company="Globex")), link)],
        [contact("b1", "ann@example.com", **ann_b(tags=["Acme customer"]))],
    )


def test_it_undoes_an_action_when_the_contact_stops_matching() -> None:
    link = synced_link()
    link.applied_actions = {
        "b": [{"rule": 7, "kind": "add_tag", "value": "Acme customer"}],
    }
    [pair] = _left_acme(link, undo=True).pairs
    assert (pair.effects["b"].remove_tags, pair.applied_actions["b"]) == (["Acme customer"], [])


def test_it_keeps_an_action_without_undo_when_the_contact_stops_matching() -> None:
    [pair] = _left_acme(synced_link(), undo=False).pairs
    assert pair.effects["b"].remove_tags == []


# -- Linked pairs -------------------------------------------------------------------------------


def test_it_keeps_the_users_split_of_a_name_when_the_last_name_changes() -> None:
    plan = linked_page(
        config(),
        "a",
        [(contact("a1", "ann@example.com", **ann_a(full_name="Mary Ann Jones")), synced_link())],
        [contact("b1", "ann@example.com", **ann_b())],
    )
    assert plan.pairs[0].merged.changes["b"] == {"first_name": "Mary Ann", "last_name": "Jones"}


def test_it_settles_a_conflict_with_the_winning_side() -> None:
    plan = linked_page(
        config(winner="b"),
        "a",
        [(contact("a1", "ann@example.com", **ann_a(company="Globex")), synced_link())],
        [contact("b1", "ann@example.com", **ann_b(company="Initech"))],
    )
    [pair] = plan.pairs
    assert (pair.merged.changes, len(names(plan, "conflicts"))) == (
        {"a": {"company": "Initech"}, "b": {}},
        1,
    )


def test_it_follows_a_record_whose_id_changed_on_the_other_side() -> None:
    moved = contact("b9", "ann@example.com", **ann_b(company="Globex"))
    plan = plan_page(
        config(),
        PageInput(
            source="a",
            linked=[(contact("a1", "ann@example.com", **ann_a()), synced_link())],
            counterparts={"b1": moved, "b9": moved},
        ),
    )
    [pair] = plan.pairs
    assert ([link.id_b for link in plan.touched_links], pair.merged.changes["a"]) == (
        ["b9"],
        {"company": "Globex"},
    )


# -- Deletions and unsubscribes -----------------------------------------------------------------


def test_it_tags_the_other_side_when_a_linked_record_is_deleted() -> None:
    plan = linked_page(
        config(deletions=True),
        "a",
        [(contact("a1", "ann@example.com", deleted=True), synced_link())],
        [contact("b1", "ann@example.com", **ann_b())],
    )
    assert (
        [(op.side, op.record_id, op.tag) for op in plan.tags],
        [link.deleted_a for link in plan.touched_links],
        plan.mass_tags["b"],
    ) == ([("b", "b1", TRASH_TAG)], [True], 1)


def test_it_never_tags_a_deletion_without_the_deletions_option() -> None:
    plan = linked_page(
        config(),
        "a",
        [(contact("a1", "ann@example.com", deleted=True), synced_link())],
        [contact("b1", "ann@example.com", **ann_b())],
    )
    assert (plan.tags, plan.creates, [link.deleted_a for link in plan.touched_links]) == (
        [],
        [],
        [True],
    )


def test_it_stops_a_pair_whose_counterpart_vanished_rather_than_recreating_it() -> None:
    plan = linked_page(
        config(),
        "a",
        [(contact("a1", "ann@example.com", **ann_a(company="Globex")), synced_link())],
        [],
    )
    assert (plan.creates, plan.pairs, [link.deleted_b for link in plan.touched_links]) == (
        [],
        [],
        [True],
    )


def test_it_tags_the_other_side_when_a_contact_unsubscribes() -> None:
    plan = linked_page(
        config(unsubscribes=True),
        "a",
        [(contact("a1", "ann@example.com", unsubscribed=True, **ann_a()), synced_link())],
        [contact("b1", "ann@example.com", **ann_b())],
    )
    [pair] = plan.pairs
    assert (pair.effects["b"].add_tags, plan.mass_tags["b"]) == ([UNSUBSCRIBE_TAG], 1)


def test_it_creates_an_unsubscribed_contact_as_unsubscribed_without_the_option() -> None:
    plan = new_page(
        config(unsubscribes=False),
        "a",
        [
            contact("a1", "ann@example.com", unsubscribed=True, **ann_a()),
            contact("a2", "bob@example.com", full_name="Bob Lee"),
        ],
    )
    assert {c.record.id: c.unsubscribed for c in plan.creates} == {"a1": True, "a2": False}


def test_it_never_writes_to_the_source_of_a_one_way_connection() -> None:
    plan = linked_page(
        config(rules={"a": [rule("a")], "b": []}, flows={"a": True, "b": False}),
        "b",
        [(contact("b1", "ann@example.com", **ann_b(company="Globex")), synced_link())],
        [contact("a1", "ann@example.com", **ann_a())],
    )
    [pair] = plan.pairs
    assert (pair.merged.changes["a"], plan.tags, plan.creates) == ({}, [], [])


def _exists() -> ConditionData:
    return ConditionData(kind=EXISTS_IN_OTHER)
