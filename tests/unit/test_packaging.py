"""Consistency checks of the install files that need no cluster and no helm binary.

The chart carries copies of the generated CRDs (Helm installs a chart's crds/
folder and never renders it), so these tests fail when the copies drift from
crds/. Run `bash hack/sync-chart-crds.sh` to copy them again.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CRD_DIR = REPO_ROOT / "crds"
CHART_DIR = REPO_ROOT / "charts" / "punctual"
SYNC_HINT = "run `bash hack/sync-chart-crds.sh` to copy crds/ into the chart"


def generated_crd_files() -> list[Path]:
    return sorted(CRD_DIR.glob("*.punctual.dev.yaml"))


def test_generated_crds_exist() -> None:
    names = [path.name for path in generated_crd_files()]
    assert names == ["jobruns.punctual.dev.yaml", "scheduledjobs.punctual.dev.yaml"]


def test_chart_crd_file_names_match() -> None:
    chart_names = sorted(path.name for path in (CHART_DIR / "crds").iterdir())
    source_names = [path.name for path in generated_crd_files()]
    assert chart_names == source_names, SYNC_HINT


@pytest.mark.parametrize("crd_name", ["scheduledjobs.punctual.dev.yaml", "jobruns.punctual.dev.yaml"])
def test_chart_crd_copy_identical(crd_name: str) -> None:
    source = (CRD_DIR / crd_name).read_bytes()
    copy = (CHART_DIR / "crds" / crd_name).read_bytes()
    assert copy == source, f"charts/punctual/crds/{crd_name} differs from crds/{crd_name}: {SYNC_HINT}"


def test_crd_kustomization_lists_every_crd() -> None:
    kustomization = yaml.safe_load((CRD_DIR / "kustomization.yaml").read_text())
    listed = sorted(kustomization["resources"])
    assert listed == [path.name for path in generated_crd_files()]


def dockerfile_instructions(keyword: str) -> list[str]:
    """Return the arguments of every Dockerfile instruction with this keyword, continuation lines joined."""
    text = (REPO_ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    pattern = re.compile(rf"^{keyword}\s+(.*)$", re.IGNORECASE | re.MULTILINE)
    return [match.strip() for match in pattern.findall(text)]


def test_dockerfile_entrypoint_is_console_script() -> None:
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    entrypoints = dockerfile_instructions("ENTRYPOINT")
    assert entrypoints == ['["punctual-operator"]']
    assert "punctual-operator" in scripts


def test_dockerfile_runs_as_numeric_non_root_user() -> None:
    users = dockerfile_instructions("USER")
    assert users, "the Dockerfile sets no USER, so the image runs as root"
    user, _, group = users[-1].partition(":")
    assert user.isdigit(), f"USER {users[-1]}: Kubernetes runAsNonRoot can only verify a numeric UID"
    assert int(user) != 0
    assert group.isdigit()


def test_dockerfile_uid_matches_chart() -> None:
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    user, _, group = dockerfile_instructions("USER")[-1].partition(":")
    assert values["podSecurityContext"]["runAsUser"] == int(user)
    assert values["podSecurityContext"]["runAsGroup"] == int(group)


def test_dockerfile_base_matches_python_requirement() -> None:
    arguments = dockerfile_instructions("ARG")
    assert "PYTHON_IMAGE=python:3.11-slim" in arguments
    requires_python = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires_python == ">=3.11"


def test_versions_agree() -> None:
    # One release number: the package, the chart's appVersion (the default
    # image tag), the kustomize image tag and the Dockerfile's default label.
    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    kustomization = yaml.safe_load((REPO_ROOT / "config" / "default" / "kustomization.yaml").read_text())
    assert chart["appVersion"] == version
    assert [image["newTag"] for image in kustomization["images"]] == [version]
    assert f"VERSION={version}" in dockerfile_instructions("ARG")


def leaf_keys(mapping: dict, prefix: str = "") -> list[str]:
    """Return the dotted paths of the values that are not mappings, or are empty mappings."""
    keys = []
    for key, value in mapping.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            keys.extend(leaf_keys(value, f"{path}."))
        else:
            keys.append(path)
    return keys


def covered_by_row(key: str, documented: set[str]) -> bool:
    parts = key.split(".")
    return any(".".join(parts[:length]) in documented for length in range(1, len(parts) + 1))


def test_install_doc_lists_every_value() -> None:
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    doc = (REPO_ROOT / "docs" / "install.md").read_text()
    documented = set(re.findall(r"^\| `([A-Za-z0-9_.]+)` \|", doc, re.MULTILINE))
    # A row for a mapping such as `resources` covers the keys inside it.
    missing = [key for key in leaf_keys(values) if not covered_by_row(key, documented)]
    assert not missing, f"docs/install.md has no row in its values table for: {', '.join(missing)}"
