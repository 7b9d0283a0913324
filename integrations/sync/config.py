"""What a run knows of its connection, as plain data: both sides' fields, the enabled mappings,
the rules of each direction and the connection's options. Loaded once per run by
``sync/selectors.py`` and handed to the planner; nothing here reads the database or an app."""

from __future__ import annotations

from dataclasses import dataclass, field

from integrations.sync import mapping as mapping_mod
from integrations.sync.actions import ActionData
from integrations.sync.conditions import ConditionData
from integrations.sync.fields import ConditionSpec, FieldSpec, NameStyle
from integrations.sync.sides import Side


@dataclass(frozen=True)
class RuleConfig:
    id: int
    source: Side
    conditions: tuple[ConditionData, ...]
    actions: tuple[ActionData, ...]
    undo: bool
    name: str = ""


@dataclass(frozen=True)
class SideConfig:
    side: Side
    # The app's name, for the run's notes ("Kustomer").
    name: str
    name_style: NameStyle
    fields: dict[str, FieldSpec]
    specials: dict[str, ConditionSpec]
    lookup_batch_size: int = 1
    create_batch_size: int = 1
    update_batch_size: int = 1


@dataclass(frozen=True)
class Config:
    sides: dict[str, SideConfig]
    mappings: tuple[mapping_mod.Mapping, ...]
    # Rules by source side; a side is a source when the connection flows out of it.
    rules: dict[str, tuple[RuleConfig, ...]]
    flows: dict[str, bool]
    winner: Side
    avoid_duplicates: bool
    deletions: bool
    unsubscribes: bool
    # Names of the connection's named rules, for the run's notes.
    rule_names: dict[int, str] = field(default_factory=dict)

    def is_source(self, side: str) -> bool:
        return self.flows[side] and bool(self.rules[side])
