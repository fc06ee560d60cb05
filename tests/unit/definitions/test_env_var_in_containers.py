"""`EnvVar` inside dict and list fields (an IO manager's ``storage_options``): recorded by path,
resolved where the step runs, its values redacted like any other secret."""

from __future__ import annotations

from typing import Any

import pytest

from raystra import (
    AssetExecutionContext,
    ConfigurableResource,
    Definitions,
    EnvVar,
    asset,
    materialize,
)
from raystra.errors import MissingResourceError
from raystra_io import ParquetIOManager


class Store(ConfigurableResource):
    url: str
    options: dict[str, Any] = {}
    headers: dict[str, str] = {}


def _store() -> Store:
    return Store(
        url="s3://bucket/data",
        options={
            "key": EnvVar("RAYSTRA_TEST_KEY"),
            "client_kwargs": {"endpoint_url": "http://127.0.0.1:9000"},
            "chain": [{"token": EnvVar("RAYSTRA_TEST_TOKEN")}, "plain"],
        },
        headers={"Authorization": EnvVar("RAYSTRA_TEST_AUTH")},
    )


@pytest.fixture
def secrets_set(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "RAYSTRA_TEST_KEY": "key-3f9a1c",
        "RAYSTRA_TEST_TOKEN": "token-8b2e77",
        "RAYSTRA_TEST_AUTH": "Bearer auth-51d0c4",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def test_env_vars_are_recorded_by_path_and_stay_names() -> None:
    store = _store()

    assert store.env_var_fields == {
        "options.key": "RAYSTRA_TEST_KEY",
        "options.chain.0.token": "RAYSTRA_TEST_TOKEN",
        "headers.Authorization": "RAYSTRA_TEST_AUTH",
    }
    assert store.options["key"] == EnvVar("RAYSTRA_TEST_KEY")
    # A dict[str, str] field keeps the name as a plain str: the path was recorded beforehand.
    assert store.headers == {"Authorization": "RAYSTRA_TEST_AUTH"}
    assert "key-3f9a1c" not in repr(store)


def test_resolved_copy_holds_values_and_leaves_the_original_alone(
    secrets_set: dict[str, str],
) -> None:
    store = _store()

    resolved, secrets = store.resolved(resource_key="store")

    assert isinstance(resolved, Store)
    assert resolved.options == {
        "key": "key-3f9a1c",
        "client_kwargs": {"endpoint_url": "http://127.0.0.1:9000"},
        "chain": [{"token": "token-8b2e77"}, "plain"],
    }
    assert resolved.headers == {"Authorization": "Bearer auth-51d0c4"}
    assert sorted(secrets) == sorted(secrets_set.values())
    assert resolved.env_var_fields == {}
    # The definitions' object is shared by every step: it must keep only the names.
    assert store.options["key"] == EnvVar("RAYSTRA_TEST_KEY")
    assert store.options["chain"][0] == {"token": EnvVar("RAYSTRA_TEST_TOKEN")}
    assert store.headers == {"Authorization": "RAYSTRA_TEST_AUTH"}


def test_tuples_keep_their_type() -> None:
    class Endpoints(ConfigurableResource):
        hosts: tuple[str, ...]

    endpoints = Endpoints(hosts=("a.example", EnvVar("RAYSTRA_TEST_HOST")))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAYSTRA_TEST_HOST", "b.example")
        resolved, secrets = endpoints.resolved()

    assert resolved.hosts == ("a.example", "b.example")  # type: ignore[attr-defined]
    assert secrets == ("b.example",)


def test_unset_variable_names_resource_path_and_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAYSTRA_TEST_KEY", "k")
    monkeypatch.setenv("RAYSTRA_TEST_AUTH", "a")
    monkeypatch.delenv("RAYSTRA_TEST_TOKEN", raising=False)

    with pytest.raises(MissingResourceError) as info:
        _store().resolved(resource_key="store")

    message = str(info.value)
    assert "Resource 'store' field 'options.chain.0.token'" in message
    assert "'RAYSTRA_TEST_TOKEN'" in message
    assert "'k'" not in message


def test_without_env_vars_the_resource_itself_is_used() -> None:
    store = Store(url="u", options={"anon": True})
    assert store.resolved() == (store, ())


def test_io_manager_storage_options_resolve_in_the_step_and_are_redacted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    secret = "sk-7d41e0aa"
    monkeypatch.setenv("RAYSTRA_TEST_STORE_SECRET", secret)
    seen: list[Any] = []

    @asset
    def numbers(context: AssetExecutionContext, io_manager: ParquetIOManager) -> list[int]:
        seen.append(io_manager.storage_options["secret"])
        context.log.info("options are %s", io_manager.storage_options)
        return [1, 2, 3]

    # LocalFileSystem accepts (and ignores) extra options, so the secret can ride along.
    manager = ParquetIOManager(
        base_path=str(tmp_path / "store"),
        storage_options={"auto_mkdir": True, "secret": EnvVar("RAYSTRA_TEST_STORE_SECRET")},
    )
    result = materialize(Definitions([numbers], resources={"io_manager": manager}))

    assert result.success
    assert seen == [secret]
    rendered = "\n".join(repr(event) for event in result.events)
    assert secret not in rendered
    assert "'secret': '***'" in rendered
    assert manager.storage_options["secret"] == EnvVar("RAYSTRA_TEST_STORE_SECRET")
