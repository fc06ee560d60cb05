"""A step killed (SIGKILL, no cleanup) while its IO manager writes leaves the final path alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pytest

from raystra.definitions import AssetKey
from raystra.errors import InputNotFoundError
from raystra.testing.io_manager_suite import input_for, output_for
from raystra_io import ParquetIOManager
from raystra_io._atomic import is_temp_name

# The writer goes through an fsspec filesystem whose writes sleep, so the kill reliably lands
# mid-write, after some bytes reached the temporary file.
WRITER = textwrap.dedent(
    """
    import sys, time
    import fsspec
    import pyarrow as pa
    from fsspec.implementations.local import LocalFileSystem
    from raystra.definitions import AssetKey, OutputContext
    from raystra_io import ParquetIOManager

    class SlowLocalFileSystem(LocalFileSystem):
        protocol = ("slowfile",)

        @classmethod
        def _strip_protocol(cls, path):
            return super()._strip_protocol(str(path).removeprefix("slowfile://"))

        def _open(self, path, mode="rb", **kwargs):
            file = super()._open(path, mode, **kwargs)
            if "w" in mode:
                write = file.write
                def slow_write(data):
                    written = write(data)
                    file.flush()
                    time.sleep(0.2)
                    return written
                file.write = slow_write
            return file

    fsspec.register_implementation("slowfile", SlowLocalFileSystem, clobber=True)
    base, key = sys.argv[1], sys.argv[2]
    table = pa.table({f"c{i}": list(range(100_000)) for i in range(20)})
    context = OutputContext(run_id="r", step_key=key, asset_key=AssetKey(key))
    ParquetIOManager(base_path="slowfile://" + base).handle_output(context, table)
    """
)


def _kill_mid_write(base: Path, key: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(base), key], env=env)
    try:
        deadline = time.monotonic() + 60
        while not any(is_temp_name(p.name) and p.stat().st_size > 0 for p in base.glob(f"_{key}*")):
            assert proc.poll() is None, f"writer exited early with {proc.returncode}"
            assert time.monotonic() < deadline, "writer never started writing"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.timeout(120)
def test_killed_first_write_leaves_nothing_at_final_path(tmp_path: Path) -> None:
    _kill_mid_write(tmp_path, "big")
    assert not (tmp_path / "big.parquet").exists()
    assert all(is_temp_name(p.name) for p in tmp_path.iterdir())
    with pytest.raises(InputNotFoundError):
        ParquetIOManager(base_path=str(tmp_path)).load_input(input_for(output_for(AssetKey("big"))))


@pytest.mark.timeout(120)
def test_killed_rewrite_keeps_previous_value(tmp_path: Path) -> None:
    io = ParquetIOManager(base_path=str(tmp_path))
    previous = pa.table({"version": [1]})
    io.handle_output(output_for(AssetKey("big")), previous)
    committed = (tmp_path / "big.parquet").read_bytes()
    _kill_mid_write(tmp_path, "big")
    assert (tmp_path / "big.parquet").read_bytes() == committed
    assert io.load_input(input_for(output_for(AssetKey("big")))).equals(previous)
