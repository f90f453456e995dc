"""Generate the CRDs in ``crds/`` from the pydantic models.

``python -m punctual.crdgen`` writes ``crds/scheduledjobs.punctual.dev.yaml``
and ``crds/jobruns.punctual.dev.yaml``; ``--check`` only compares them. The
pydantic JSON schema is turned into a Kubernetes structural schema: ``$ref``
inlined, ``Optional[X]`` turned into X (optional fields are simply not
required), titles and ``additionalProperties: false`` dropped, and a ``type``
on every node except the preserve-unknown-fields ones.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from punctual.models import GROUP, VERSION, JobRun, ScheduledJob

REPO_ROOT = Path(__file__).resolve().parents[2]
CRD_DIR = REPO_ROOT / "crds"

_DROPPED_KEYS = {"title", "discriminator", "examples"}


def _resolve(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_resolve(item, defs) for item in node]
    if not isinstance(node, dict):
        return node

    node = dict(node)
    if "$ref" in node:
        target = copy.deepcopy(defs[node.pop("$ref").rsplit("/", 1)[-1]])
        # Keys beside $ref (description, default) override the referenced definition.
        target.update(node)
        return _resolve(target, defs)

    if "anyOf" in node:
        variants = [variant for variant in node.pop("anyOf") if variant.get("type") != "null"]
        if len(variants) != 1:
            raise ValueError(f"cannot express anyOf with {len(variants)} non-null variants in a structural schema")
        merged = dict(_resolve(variants[0], defs))
        merged.update({key: value for key, value in node.items()})
        node = merged

    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED_KEYS:
            continue
        if key == "additionalProperties" and value is False:
            continue
        if key == "default" and (value is None or isinstance(value, (dict, list))):
            continue
        if key == "properties":
            result[key] = {name: _resolve(sub, defs) for name, sub in value.items()}
        elif key in ("items", "additionalProperties"):
            result[key] = _resolve(value, defs)
        else:
            result[key] = value
    return result


def structural_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Return the structural OpenAPI v3 schema of a top-level resource model."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})
    schema = _resolve(raw, defs)
    schema.pop("required", None)  # spec presence is checked per resource below
    properties = schema["properties"]
    properties["apiVersion"] = {"type": "string"}
    properties["kind"] = {"type": "string"}
    properties["metadata"] = {"type": "object"}
    schema["required"] = ["spec"]
    schema["type"] = "object"
    _check_structural(schema, path="")
    return schema


def _check_structural(node: dict[str, Any], path: str) -> None:
    if "$ref" in node or "anyOf" in node or "oneOf" in node or "allOf" in node:
        raise ValueError(f"{path or '<root>'}: schema still has $ref/anyOf/oneOf/allOf")
    if "type" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        raise ValueError(f"{path or '<root>'}: schema node has no type")
    for name, sub in node.get("properties", {}).items():
        _check_structural(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        _check_structural(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        _check_structural(node["additionalProperties"], f"{path}{{}}")


def _crd(
    *,
    kind: str,
    plural: str,
    short_names: list[str],
    model: type[BaseModel],
    columns: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": short_names,
                "categories": ["punctual"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {"openAPIV3Schema": structural_schema(model)},
                }
            ],
        },
    }


def scheduled_job_crd() -> dict[str, Any]:
    return _crd(
        kind="ScheduledJob",
        plural="scheduledjobs",
        short_names=["sj"],
        model=ScheduledJob,
        columns=[
            {"name": "Schedule", "type": "string", "jsonPath": ".status.scheduleDisplay"},
            {"name": "Time Zone", "type": "string", "jsonPath": ".spec.timeZone"},
            {"name": "Suspended", "type": "boolean", "jsonPath": ".spec.suspend"},
            {"name": "Active", "type": "integer", "jsonPath": ".status.activeCount"},
            {"name": "Last Schedule", "type": "date", "jsonPath": ".status.lastScheduleTime"},
            {"name": "Next", "type": "string", "jsonPath": ".status.nextScheduleTimes[0]"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
    )


def job_run_crd() -> dict[str, Any]:
    return _crd(
        kind="JobRun",
        plural="jobruns",
        short_names=["jr"],
        model=JobRun,
        columns=[
            {"name": "Scheduled Job", "type": "string", "jsonPath": ".spec.scheduledJobName"},
            {"name": "Scheduled Time", "type": "string", "jsonPath": ".spec.scheduledTime"},
            {"name": "Trigger", "type": "string", "jsonPath": ".spec.trigger", "priority": 1},
            {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
            {"name": "Reason", "type": "string", "jsonPath": ".status.reason", "priority": 1},
            {"name": "Duration", "type": "integer", "jsonPath": ".status.durationSeconds", "description": "seconds"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
    )


HEADER = "# Generated by `python -m punctual.crdgen` from operator/punctual/models.py; do not edit.\n"


def rendered() -> dict[Path, str]:
    """Return the text of every CRD file, keyed by its path."""
    files = {}
    for crd in (scheduled_job_crd(), job_run_crd()):
        path = CRD_DIR / f"{crd['metadata']['name']}.yaml"
        files[path] = HEADER + yaml.safe_dump(crd, sort_keys=False, width=120)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a file in crds/ differs from the models")
    args = parser.parse_args(argv)
    stale = []
    for path, text in rendered().items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    if stale:
        names = ", ".join(str(path.relative_to(REPO_ROOT)) for path in stale)
        print(f"error: {names} differ from the models; run: python -m punctual.crdgen", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
