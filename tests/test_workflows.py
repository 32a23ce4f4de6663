"""The GitHub Actions workflows publish the site only after the tests pass, with least privilege.

Everything here runs offline: check-jsonschema validates against the schemas vendored in its
package, and zizmor runs with ``--offline`` (its online audits need the GitHub API). Both come
with the test extra, so they sit next to the Python running these tests.

PyYAML reads YAML 1.1, where the workflow key ``on`` is the boolean ``True``: `triggers` looks
under both.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_DIR = ROOT / ".github" / "workflows"
WORKFLOWS = sorted([*WORKFLOW_DIR.glob("*.yml"), *WORKFLOW_DIR.glob("*.yaml")])
DOCS = WORKFLOW_DIR / "docs.yml"
DEPENDABOT = ROOT / ".github" / "dependabot.yml"

# owner/repo[/path]@<full commit SHA>, then the release it is, e.g. `# v7.0.1`.
PINNED = re.compile(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}")
VERSION_COMMENT = re.compile(r"\s+# v\d+(\.\d+)*")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")


def tool(name: str) -> str:
    """The path of `name` installed beside this interpreter (the venv's bin), or fail."""
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} is not installed next to {sys.executable}; run python3 dev.py test")
    return found


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run a checker from the project root and capture what it says."""
    return subprocess.run(
        [str(a) for a in args], cwd=ROOT, capture_output=True, text=True, check=False
    )


@cache
def load(path: Path) -> dict[Any, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    return workflow.get("on", workflow.get(True))


def jobs(path: Path = DOCS) -> dict[str, dict[str, Any]]:
    return load(path)["jobs"]


def steps(path: Path) -> list[dict[str, Any]]:
    return [step for job in jobs(path).values() for step in job.get("steps", [])]


def step_running(job: str, command: str) -> dict[str, Any]:
    matches = [step for step in jobs()[job]["steps"] if step.get("run") == command]
    assert len(matches) == 1, f"job {job!r} should run {command!r} once; found {len(matches)}"
    return matches[0]


def setup_python(job: str) -> dict[str, Any]:
    (step,) = [
        s for s in jobs()[job]["steps"] if s.get("uses", "").startswith("actions/setup-python@")
    ]
    return step["with"]


# --- the checks that run in CI's place, offline ---------------------------------------------


def test_the_docs_workflow_and_dependabot_config_exist() -> None:
    assert DOCS in WORKFLOWS
    assert DEPENDABOT.is_file()


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_the_github_workflow_schema(path: Path) -> None:
    result = run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dependabot_config_matches_its_schema() -> None:
    result = run(tool("check-jsonschema"), "--builtin-schema", "vendor.dependabot", DEPENDABOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_has_no_findings() -> None:
    zizmor = (tool("zizmor"), "--offline", "--strict-collection", "--format", "plain")
    result = run(*zizmor, *WORKFLOWS, DEPENDABOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_checkers_do_reject_a_bad_workflow(tmp_path: Path) -> None:
    # The two tests above can fail: the same commands flag a workflow with the classic
    # mistakes, so a silent "ok" is not a checker that looks at nothing.
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\n"
        "jobs:\n"
        "  test:\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        '      - run: echo "${{ github.event.head_commit.message }}"\n',
        encoding="utf-8",
    )
    zizmor = run(tool("zizmor"), "--offline", "--format", "plain", bad)
    assert zizmor.returncode != 0
    for audit in ("unpinned-uses", "artipacked", "template-injection"):
        assert audit in zizmor.stdout, zizmor.stdout

    no_jobs = tmp_path / "no-jobs.yml"
    no_jobs.write_text("on: push\n", encoding="utf-8")
    schema = run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", no_jobs)
    assert schema.returncode != 0
    assert "'jobs' is a required property" in schema.stdout


# --- what the workflow promises --------------------------------------------------------------


def test_pull_requests_are_tested_and_main_is_published() -> None:
    on = triggers(load(DOCS))
    assert set(on) == {"pull_request", "push", "workflow_dispatch"}
    assert on["push"] == {"branches": ["main"]}
    assert jobs()["test"].get("if") is None  # every event is tested
    for job in ("build", "deploy"):  # only main is built for and published to Pages
        assert jobs()[job]["if"] == "github.ref == 'refs/heads/main'"


def test_a_red_test_means_no_deploy() -> None:
    assert jobs()["build"]["needs"] == "test"
    assert set(jobs()["deploy"]["needs"]) == {"test", "build"}


def test_ci_runs_the_same_commands_as_a_developer() -> None:
    # The README's commands, so what CI checks is what `python3 dev.py test` checks locally.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python3 dev.py test" in readme
    step_running("test", "python3 dev.py test")
    step_running("build", "python3 dev.py build")  # mkdocs build --strict, into site/
    (upload,) = [
        s for s in jobs()["build"]["steps"] if "upload-pages-artifact" in s.get("uses", "")
    ]
    assert upload["with"]["path"] == "site/"


def test_browser_tests_have_a_browser() -> None:
    # CI=true makes the site test mandatory, so the test job must name a browser it can run.
    chromium = jobs()["test"]["env"]["CHROMIUM"]
    assert Path(chromium).is_absolute()
    step_running("test", '"$CHROMIUM" --version')


def test_permissions_are_read_only_except_for_publishing() -> None:
    assert load(DOCS)["permissions"] in ({}, {"contents": "read"})
    for name, job in jobs().items():
        assert isinstance(job.get("permissions"), dict), f"job {name!r} must list its permissions"
    assert jobs()["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    for name, job in jobs().items():
        if name != "deploy":
            writes = [scope for scope, access in job["permissions"].items() if access != "read"]
            assert writes == [], f"job {name!r} may only read; it asks to write {writes}"


def test_deployments_queue_and_are_never_cancelled() -> None:
    deploy = jobs()["deploy"]
    assert deploy["concurrency"] == {"group": "pages", "cancel-in-progress": False}
    assert deploy["environment"]["name"] == "github-pages"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_with_its_version(path: Path) -> None:
    # Comments are not in the parsed YAML, so read the lines; then make sure no `uses:` was
    # written in a form the line scan would miss.
    lines = [
        m for line in path.read_text(encoding="utf-8").splitlines() if (m := USES_LINE.match(line))
    ]
    for line in lines:
        if line["ref"].startswith("./"):
            continue  # an action from this repository, pinned by the checkout itself
        assert PINNED.fullmatch(line["ref"]), f"{line['ref']} is not pinned to a full commit SHA"
        assert VERSION_COMMENT.fullmatch(line["rest"]), f"{line['ref']} needs a `# vX.Y.Z` comment"
    parsed = [s["uses"] for s in steps(path) if "uses" in s]
    parsed += [job["uses"] for job in jobs(path).values() if "uses" in job]
    assert sorted(line["ref"] for line in lines) == sorted(parsed)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_checkout_never_leaves_the_token_on_disk(path: Path) -> None:
    checkouts = [s for s in steps(path) if s.get("uses", "").startswith("actions/checkout@")]
    for step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_job_has_a_timeout_and_no_secrets_are_used(path: Path) -> None:
    for name, job in jobs(path).items():
        assert isinstance(job.get("timeout-minutes"), int), f"job {name!r} needs timeout-minutes"
    assert not re.search(r"\bsecrets\.", path.read_text(encoding="utf-8"))


def test_python_versions_are_the_ones_pyproject_states() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    prefix = "Programming Language :: Python :: "
    stated = [c.removeprefix(prefix) for c in project["classifiers"] if c.startswith(prefix + "3.")]
    assert stated, "pyproject.toml should list its Python versions as classifiers"
    oldest = min(stated, key=lambda v: tuple(map(int, v.split("."))))
    assert project["requires-python"] == f">={oldest}"

    # The test job runs every stated version; other jobs use one of them.
    assert jobs()["test"]["strategy"]["matrix"]["python-version"] == stated
    assert setup_python("test")["python-version"] == "${{ matrix.python-version }}"
    assert setup_python("build")["python-version"] in stated


def test_pip_downloads_are_cached_by_pyproject() -> None:
    cached = setup_python("test")
    assert (cached["cache"], cached["cache-dependency-path"]) == ("pip", "pyproject.toml")
    # The job whose output is published installs afresh: no cache another run could poison.
    assert "cache" not in setup_python("build")


def test_dependabot_keeps_the_action_pins_current() -> None:
    (updates,) = load(DEPENDABOT)["updates"]
    assert (updates["package-ecosystem"], updates["directory"]) == ("github-actions", "/")
