"""cluster_configs/: what a user copies to run raystra on a cluster must be valid as shipped.

Every Ray cluster-launcher YAML goes through the validation `ray up` itself performs before it
touches a cloud: `prepare_config` merges the provider's defaults (and, for `provider: type:
local`, builds the node types from the IPs), then `validate_config` checks the result against
`ray/autoscaler/ray-schema.json` with jsonschema and applies Ray's cross-field rules. Broken
copies of the configs must be rejected by that same path, or the check proves nothing.

The KubeRay manifests have no validator outside a Kubernetes API server, so their required
fields are checked here, and their entrypoint is parsed by the real raystra CLI (and run, with
the in-process executor, against the example project the image bakes in). Everything also has
to agree on one Ray version and on the raystra version and extras this repository defines.
No cloud, no Kubernetes, no Ray cluster.
"""

from __future__ import annotations

import copy
import re
import shlex
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest
import typer
import typer.core
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from raystra.cli.main import app
from raystra.storage import open_storage

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "cluster_configs"
KUBERAY = CONFIGS / "kuberay"
EXAMPLE_PROJECT = CONFIGS / "example_project"
LAUNCHER_FILES = sorted(CONFIGS.glob("*.yaml"))
KUBERAY_FILES = sorted(KUBERAY.glob("*.yaml"))
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]

RAY_IMAGE = re.compile(r"^rayproject/ray:(?P<ray>\d+\.\d+\.\d+)-py(?P<py>3)(?P<minor>\d+)$")
# Commands that start runs: what a RayJob (or `raystra submit`) is for.
RUN_COMMANDS = {"materialize", "backfill"}
# Environment variables that carry secrets: in a manifest only ever from a Kubernetes Secret.
SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|KEY|CREDENTIAL|STORAGE_URL")
# A URL with a password in it (scheme://user:password@host).
URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^\s/:@]+:[^\s/@]+@")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def ray_up_validation(config: dict[str, Any]) -> None:
    """What `ray up` checks before it calls a cloud API (see `_bootstrap_config` in Ray)."""
    # Imported here: collecting the unit tests should not import Ray.
    from ray.autoscaler._private.util import prepare_config, validate_config

    validate_config(prepare_config(copy.deepcopy(config)))


def launcher(name: str) -> dict[str, Any]:
    config: dict[str, Any] = load_yaml(CONFIGS / f"{name}.yaml")
    return config


# --- Ray cluster-launcher YAML -------------------------------------------------------------


def test_there_is_a_launcher_config_per_provider() -> None:
    providers = {path.stem: load_yaml(path)["provider"]["type"] for path in LAUNCHER_FILES}
    assert providers == {"aws": "aws", "gcp": "gcp", "local": "local"}


@pytest.mark.parametrize("path", LAUNCHER_FILES, ids=lambda p: p.name)
def test_launcher_config_passes_rays_own_validation(path: Path) -> None:
    ray_up_validation(load_yaml(path))


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(config: dict[str, Any]) -> None:
        *parents, last = path
        node = config
        for key in parents:
            node = node[key]
        node[last] = value

    return mutate


def _rename(path: tuple[str, ...], new: str) -> Callable[[dict[str, Any]], None]:
    def mutate(config: dict[str, Any]) -> None:
        *parents, last = path
        node = config
        for key in parents:
            node = node[key]
        node[new] = node.pop(last)

    return mutate


BROKEN = {
    "misspelt node type field": (
        "aws",
        _rename(("available_node_types", "ray.worker.default", "min_workers"), "min_worker"),
        jsonschema.ValidationError,
        "'min_worker' was unexpected",
    ),
    "resources not integers": (
        "gcp",
        _set(("available_node_types", "ray_worker_default", "resources"), {"CPU": "eight"}),
        jsonschema.ValidationError,
        "'eight' is not of type 'integer'",
    ),
    "unknown top-level key": (
        "gcp",
        _rename(("setup_commands",), "setup_command"),
        jsonschema.ValidationError,
        "'setup_command' was unexpected",
    ),
    "head node type that does not exist": (
        "aws",
        _set(("head_node_type",), "ray.head.gpu"),
        ValueError,
        "`head_node_type` must be one of `available_node_types`",
    ),
    "min_workers above max_workers": (
        "aws",
        _set(("max_workers",), 0),
        ValueError,
        "smaller than the sum of `min_workers`",
    ),
    "start commands not a list": (
        "local",
        _set(("head_start_ray_commands",), "ray start --head"),
        jsonschema.ValidationError,
        "is not of type 'array'",
    ),
    "setup command not a string": (
        "local",
        _set(("setup_commands",), [{"pip": "install raystra"}]),
        jsonschema.ValidationError,
        "is not of type 'string'",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_rays_validation_rejects_a_broken_copy(case: str) -> None:
    name, mutate, error, message = BROKEN[case]
    config = launcher(name)
    ray_up_validation(config)  # the shipped config passes ...
    mutate(config)
    with pytest.raises(error, match=re.escape(message)):  # ... and the broken copy does not
        ray_up_validation(config)


def _commands(config: dict[str, Any]) -> list[str]:
    keys = ("initialization_commands", "setup_commands", "head_setup_commands")
    keys += ("worker_setup_commands", "head_start_ray_commands", "worker_start_ray_commands")
    return [command for key in keys for command in config.get(key) or []]


def _words(command: str) -> list[str]:
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    return list(lexer)


def pip_requirements(command: str) -> list[Requirement]:
    """The requirements every `pip install` in a shell command line names."""
    words = _words(command)
    found = []
    for i, word in enumerate(words[:-1]):
        if PurePosixPath(word).name in ("pip", "pip3") and words[i + 1] == "install":
            for arg in words[i + 2 :]:
                if arg in (";", "&&", "||", "|", "&"):
                    break
                if not arg.startswith("-"):
                    found.append(Requirement(arg))
    return found


def check_installs_raystra(requirements: list[Requirement]) -> None:
    """raystra at this repository's version with extras it defines, and the Postgres driver."""
    by_name = {req.name: req for req in requirements}
    raystra = by_name["raystra"]
    # The cluster runs the raystra you submit from (one schema, one CLI): bump them together.
    assert str(raystra.specifier) == f"=={PYPROJECT['version']}"
    assert raystra.extras <= set(PYPROJECT["optional-dependencies"]), raystra.extras
    assert "cluster" in raystra.extras  # the Jobs API and dashboard `raystra submit` talks to
    assert "psycopg" in by_name  # for RAYSTRA_STORAGE_URL=postgresql+psycopg://...
    object_stores = {"s3fs"} if "s3" in raystra.extras else set()
    object_stores |= {name for name in by_name if name in ("s3fs", "gcsfs")}
    assert object_stores, "nothing lets the IO managers reach S3 or GCS"


@pytest.mark.parametrize("path", LAUNCHER_FILES, ids=lambda p: p.name)
def test_launcher_config_installs_raystra_on_every_node(path: Path) -> None:
    config = load_yaml(path)
    # setup_commands run on every node; head_/worker_setup_commands only on some.
    requirements = [req for cmd in config["setup_commands"] for req in pip_requirements(cmd)]
    check_installs_raystra(requirements)
    if path.stem == "gcp":
        assert "gcsfs" in {req.name for req in requirements}


@pytest.mark.parametrize("path", LAUNCHER_FILES, ids=lambda p: p.name)
def test_launcher_config_loads_the_node_environment_before_ray_starts(path: Path) -> None:
    config = load_yaml(path)
    local = config["file_mounts"]["~/raystra.env"]
    assert local == "cluster_configs/raystra.env"
    ignored = (CONFIGS / ".gitignore").read_text(encoding="utf-8").split()
    assert "raystra.env" in ignored  # the filled-in file never lands in git
    loads = [cmd for cmd in config["setup_commands"] if ". ~/raystra.env" in cmd]
    assert loads and all("set -a" in cmd and ">> ~/.bashrc" in cmd for cmd in loads)
    # Nothing secret is set inline: it all comes from the env file.
    for command in _commands(config):
        assert not re.search(r"\b(RAYSTRA_STORAGE_URL|RAY_AUTH_TOKEN|AWS_SECRET\w*)=", command)
        assert not URL_WITH_PASSWORD.search(command)


def test_node_environment_template_sets_postgres_storage_and_token_auth() -> None:
    env = {}
    for line in (CONFIGS / "raystra.env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key] = shlex.split(value, comments=True)[0]
    assert make_url(env["RAYSTRA_STORAGE_URL"]).drivername == "postgresql+psycopg"
    assert env["RAY_AUTH_MODE"] == "token"
    assert "RAY_AUTH_TOKEN" in env


# --- KubeRay manifests ---------------------------------------------------------------------


def kuberay(name: str) -> dict[str, Any]:
    manifest: dict[str, Any] = load_yaml(KUBERAY / f"{name}.yaml")
    return manifest


def cluster_spec(manifest: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = manifest["spec"]
    return spec if manifest["kind"] == "RayCluster" else spec["rayClusterSpec"]


def containers(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(group, container) for the head group and every worker group."""
    for container in spec["headGroupSpec"]["template"]["spec"]["containers"]:
        yield "head", container
    for group in spec["workerGroupSpecs"]:
        for container in group["template"]["spec"]["containers"]:
            yield group["groupName"], container


def test_there_is_a_raycluster_and_a_rayjob() -> None:
    kinds = {path.stem: load_yaml(path)["kind"] for path in KUBERAY_FILES}
    assert kinds == {"raycluster": "RayCluster", "rayjob": "RayJob"}


@pytest.mark.parametrize("name", ["raycluster", "rayjob"])
def test_kuberay_manifest_has_the_required_fields(name: str) -> None:
    manifest = kuberay(name)
    assert manifest["apiVersion"] == "ray.io/v1"
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", manifest["metadata"]["name"])
    spec = cluster_spec(manifest)
    assert re.fullmatch(r"\d+\.\d+\.\d+", spec["rayVersion"])
    head = spec["headGroupSpec"]
    assert isinstance(head["rayStartParams"], dict)
    head_containers = head["template"]["spec"]["containers"]
    assert head_containers, "the head group has no container"
    ports = {port["containerPort"] for port in head_containers[0].get("ports", [])}
    assert {6379, 8265} <= ports  # GCS, and the dashboard that serves the Jobs API
    assert spec["workerGroupSpecs"], "no worker group"
    for group in spec["workerGroupSpecs"]:
        assert group["groupName"]
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        assert group["template"]["spec"]["containers"]
    for group, container in containers(spec):
        assert container["name"] and container["image"], f"{group}: container without image"


def test_rayjob_has_an_entrypoint_and_exactly_one_cluster_source() -> None:
    spec = kuberay("rayjob")["spec"]
    assert spec["entrypoint"].strip()
    assert ("rayClusterSpec" in spec) != ("clusterSelector" in spec)


@pytest.mark.parametrize("name", ["raycluster", "rayjob"])
def test_kuberay_manifest_takes_storage_and_secrets_from_kubernetes_secrets(name: str) -> None:
    spec = cluster_spec(kuberay(name))
    assert spec["authOptions"]["mode"] == "token"
    head = next(container for group, container in containers(spec) if group == "head")
    head_env = {var["name"]: var for var in head["env"]}
    assert "secretKeyRef" in head_env["RAYSTRA_STORAGE_URL"]["valueFrom"]
    for group, container in containers(spec):
        for var in container.get("env", []):
            if SECRET_NAME.search(var["name"]):
                assert "value" not in var, f"{group}: {var['name']} is inline"
                assert "secretKeyRef" in var["valueFrom"], f"{group}: {var['name']}"
            else:
                assert not URL_WITH_PASSWORD.search(str(var.get("value", "")))


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = (KUBERAY / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    found = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, args = line.strip().partition(" ")
            found.append((instruction.upper(), args.strip()))
    return found


def test_kuberay_image_is_built_from_ray_with_raystra_and_the_project() -> None:
    instructions = dockerfile()
    base = next(args for op, args in instructions if op == "FROM")
    match = RAY_IMAGE.match(base)
    assert match, base
    requirements = [
        req for op, args in instructions if op == "RUN" for req in pip_requirements(args)
    ]
    check_installs_raystra(requirements)
    assert {"s3fs", "gcsfs"} <= {req.name for req in requirements}
    copy_args = next(args for op, args in instructions if op == "COPY").split()
    assert copy_args[-2:] == [".", "/home/ray/project"]
    for name in ("raycluster", "rayjob"):
        spec = cluster_spec(kuberay(name))
        assert spec["rayVersion"] == match["ray"]
        images = {container["image"] for _, container in containers(spec)}
        assert len(images) == 1, f"{name}: head and workers must run the same image"
        assert "raystra" in images.pop()


def test_one_ray_version_everywhere_within_the_pinned_range() -> None:
    versions = {}
    pythons = set()
    for name in ("aws", "gcp"):
        match = RAY_IMAGE.match(launcher(name)["docker"]["image"])
        assert match
        versions[name] = match["ray"]
        pythons.add(f"{match['py']}.{match['minor']}")
    pins = [
        req
        for cmd in launcher("local")["setup_commands"]
        for req in pip_requirements(cmd)
        if req.name == "ray"
    ]
    versions["local"] = str(pins[0].specifier).removeprefix("==")
    for name in ("raycluster", "rayjob"):
        versions[name] = cluster_spec(kuberay(name))["rayVersion"]
    base = RAY_IMAGE.match(next(args for op, args in dockerfile() if op == "FROM"))
    assert base
    versions["Dockerfile"] = base["ray"]
    pythons.add(f"{base['py']}.{base['minor']}")
    assert len(set(versions.values())) == 1, versions
    ray_pin = next(Requirement(dep) for dep in PYPROJECT["dependencies"] if dep.startswith("ray"))
    assert Version(versions["aws"]) in ray_pin.specifier
    assert all(Version(py) in SpecifierSet(PYPROJECT["requires-python"]) for py in pythons)


# --- The RayJob's entrypoint, through the real CLI -------------------------------------------

PROJECT_IN_IMAGE = PurePosixPath("/home/ray/project")


def entrypoint_argv() -> list[str]:
    """The RayJob's command line, with the image's project path mapped to this checkout."""
    argv = shlex.split(kuberay("rayjob")["spec"]["entrypoint"])
    assert argv[0] == "raystra"
    mapped = []
    for word in argv[1:]:
        path = PurePosixPath(word)
        if path.is_relative_to(PROJECT_IN_IMAGE):
            local = EXAMPLE_PROJECT / path.relative_to(PROJECT_IN_IMAGE)
            assert local.is_file(), f"{word} is not in the image: no {local}"
            word = str(local)
        mapped.append(word)
    return mapped


def parse_cli(args: list[str]) -> list[str]:
    """Parse ``raystra ARGS`` exactly as the CLI would, without running it; the command path.

    Unknown options, missing option values and unknown subcommands raise typer's (click's)
    usage errors, which are `typer.TyperException`s.
    """

    def parse(command: Any, name: str, args: list[str], parent: Any) -> list[str]:
        ctx = command.make_context(name, args, parent=parent)
        if not isinstance(command, typer.core.TyperGroup):
            return [name]
        # What the group left for a subcommand (click before 9 keeps the name apart).
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        if not rest:
            return [name]
        sub_name, sub, sub_args = command.resolve_command(ctx, rest)
        assert sub is not None and sub_name is not None
        return [name, *parse(sub, sub_name, sub_args, ctx)]

    return parse(typer.main.get_command(app), "raystra", list(args), None)


def test_rayjob_entrypoint_is_a_valid_raystra_command() -> None:
    args = entrypoint_argv()
    path = parse_cli(args)
    assert path[0] == "raystra" and path[1] in RUN_COMMANDS, path
    # And the command's own help lists every option the entrypoint uses.
    result = CliRunner().invoke(app, [*path[1:], "--help"])
    assert result.exit_code == 0, result.output
    for word in args[args.index(path[1]) :]:
        if word.startswith("--"):
            assert word.split("=")[0] in result.output


def test_entrypoint_parser_rejects_what_the_cli_rejects() -> None:
    good = entrypoint_argv()
    at = good.index("backfill")
    with pytest.raises(typer.TyperException, match="No such command"):
        parse_cli([*good[:at], "backfil", *good[at + 1 :]])
    with pytest.raises(typer.TyperException, match="No such option"):
        parse_cli([*good, "--form", "2024-03-01"])
    with pytest.raises(typer.TyperException, match="requires an argument"):
        parse_cli([*good, "--to"])


def test_rayjob_entrypoint_backfills_the_example_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The entrypoint as the cluster runs it, with steps in-process and outputs in a folder."""
    lake = tmp_path / "lake"
    monkeypatch.setenv("LAKE_URL", str(lake))  # the example's own setting; s3://... on a cluster
    monkeypatch.setenv("RAYSTRA_EXECUTOR", "in_process")  # no Ray here; storage in RAYSTRA_HOME
    result = CliRunner().invoke(app, entrypoint_argv())
    assert result.exit_code == 0, result.output
    storage = open_storage()
    try:
        (run,) = storage.get_runs()
        assert run.status == "SUCCESS"
    finally:
        storage.close()
    days = len(list((lake / "orders").glob("partition=*/data.parquet")))
    assert days == 31
    assert len(list((lake / "daily_revenue").glob("partition=*/data.parquet"))) == days
