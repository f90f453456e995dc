"""The CRDs in crds/ are generated from the models and form valid structural schemas."""

from __future__ import annotations

from typing import Any

import yaml

from punctual import crdgen
from punctual.models import JobRunStatus, ScheduledJobSpec, ScheduledJobStatus


def _walk(node: dict[str, Any], path: str = ""):
    yield path, node
    for name, sub in node.get("properties", {}).items():
        yield from _walk(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from _walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _walk(node["additionalProperties"], f"{path}{{}}")


def test_committed_crds_match_models():
    for path, text in crdgen.rendered().items():
        assert path.exists(), f"{path} is missing: run python -m punctual.crdgen"
        assert path.read_text() == text, f"{path} is stale: run python -m punctual.crdgen"


def test_schema_is_structural():
    for crd in (crdgen.scheduled_job_crd(), crdgen.job_run_crd()):
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        for path, node in _walk(schema):
            for key in ("$ref", "anyOf", "oneOf", "allOf", "title"):
                assert key not in node, f"{crd['metadata']['name']} {path} has {key}"
            if not node.get("x-kubernetes-preserve-unknown-fields"):
                assert "type" in node, f"{crd['metadata']['name']} {path} has no type"
            assert node.get("additionalProperties") is not False, path


def test_every_status_field_is_declared():
    sj = crdgen.scheduled_job_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    jr = crdgen.job_run_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert set(sj["properties"]["status"]["properties"]) == set(ScheduledJobStatus.model_fields)
    assert set(jr["properties"]["status"]["properties"]) == set(JobRunStatus.model_fields)
    assert set(sj["properties"]["spec"]["properties"]) == set(ScheduledJobSpec.model_fields)


def test_job_template_spec_preserves_unknown_fields():
    sj = crdgen.scheduled_job_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    template = sj["properties"]["spec"]["properties"]["jobTemplate"]
    assert template["properties"]["spec"]["x-kubernetes-preserve-unknown-fields"] is True
    assert template["properties"]["spec"]["type"] == "object"
    assert "jobTemplate" in sj["properties"]["spec"]["required"]


def test_cel_rules_have_messages():
    crds = [yaml.safe_load(text) for text in crdgen.rendered().values()]
    rules = []
    for crd in crds:
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        for _, node in _walk(schema):
            rules.extend(node.get("x-kubernetes-validations", []))
    assert len(rules) >= 5
    for rule in rules:
        assert rule["message"].strip(), rule


def test_printer_columns():
    sj_columns = [c["name"] for c in crdgen.scheduled_job_crd()["spec"]["versions"][0]["additionalPrinterColumns"]]
    jr_columns = [c["name"] for c in crdgen.job_run_crd()["spec"]["versions"][0]["additionalPrinterColumns"]]
    assert sj_columns == ["Schedule", "Time Zone", "Suspended", "Active", "Last Schedule", "Next", "Age"]
    for name in ("Scheduled Job", "Scheduled Time", "Phase", "Duration", "Age"):
        assert name in jr_columns
