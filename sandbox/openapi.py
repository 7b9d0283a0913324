"""Reading an app's published OpenAPI document, shared by the emulators that check bodies
against one (Kustomer, Mailchimp) and by their tests."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any


@functools.cache
def load_document(path: Path) -> dict[str, Any]:
    """The JSON document at ``path``, read once per process."""
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def inline_refs(node: Any, document: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """``node`` with every local ``$ref`` replaced by its target in ``document`` (cycles left
    open)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            if ref in seen:
                return {}
            target: Any = document
            for part in ref[2:].split("/"):
                target = target[part]
            return inline_refs(target, document, (*seen, ref))
        return {key: inline_refs(value, document, seen) for key, value in node.items()}
    if isinstance(node, list):
        return [inline_refs(item, document, seen) for item in node]
    return node
