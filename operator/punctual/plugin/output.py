"""Output of the plugin: kubectl-style tables, JSON and YAML."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import yaml

FORMATS = ("table", "wide", "json", "yaml")
COLUMN_GAP = "   "


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Format rows under headers in left-aligned columns, as ``kubectl get`` does.

    None and empty cells print as ``<none>``; trailing spaces are stripped.
    """
    cells = [[str(header) for header in headers]]
    for row in rows:
        cells.append([_cell(value) for value in row])
    widths = [max(len(line[column]) for line in cells) for column in range(len(headers))]
    lines = [COLUMN_GAP.join(text.ljust(width) for text, width in zip(line, widths)).rstrip() for line in cells]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "<none>"
    return str(value)


def dump(data: Any, output_format: str) -> str:
    """Serialize data as JSON (indented like kubectl) or YAML."""
    if output_format == "json":
        return json.dumps(data, indent=4, sort_keys=False, default=str) + "\n"
    if output_format == "yaml":
        return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
    raise ValueError(f"dump takes json or yaml, got {output_format!r}")


def as_list(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Wrap objects in a v1 List, as ``kubectl get -o json`` prints several objects."""
    return {"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}


def write(text: str, stream: TextIO | None = None) -> None:
    target = stream or sys.stdout
    target.write(text)
    target.flush()


def note(text: str) -> None:
    """Write an informational line to stderr, so that stdout stays parseable."""
    sys.stderr.write(text.rstrip("\n") + "\n")
    sys.stderr.flush()
