"""A throwaway PostgreSQL server for the storage tests, started from the machine's binaries.

`start_postgres` runs ``initdb`` into a fresh directory under the system temp dir, starts
``postgres`` itself (no ``pg_ctl`` daemonising: the server is this process's child, so its PID is
known and it is stopped by that PID) on a free port of 127.0.0.1 with its unix socket inside
that directory, and creates a database. `PostgresServer.stop` asks for a fast shutdown (SIGINT
to that PID), waits, and removes the directory.

PostgreSQL refuses to run as root. When the tests run as root, ``initdb`` and ``postgres`` run
as an unprivileged account instead: the ``postgres`` user when the Debian package created one,
else ``nobody``. The switch is `subprocess.Popen`'s ``user``/``group``/``extra_groups`` (the
same setgid/setgroups/setuid that ``runuser -u postgres`` performs, without needing runuser or
su). The temporary directory is made by root and handed to that account; it lives directly in
the system temp dir because pytest's own ``/tmp/pytest-of-root`` is closed to other users.

The server is only for tests: ``fsync`` is off, and it listens on 127.0.0.1 only, with a random
password (SCRAM) for TCP connections.

Example:
    >>> server = start_postgres(find_postgres_bindir())  # doctest: +SKIP
    >>> server.url  # doctest: +SKIP
    'postgresql+psycopg://raystra:...@127.0.0.1:54321/raystra'
    >>> server.stop()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["PostgresServer", "find_postgres_bindir", "start_postgres"]

SUPERUSER = "raystra"
_START_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 30.0


def find_postgres_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``postgres``, newest version first; None if absent.

    ``$RAYSTRA_TEST_PG_BINDIR`` wins; then Debian's ``/usr/lib/postgresql/<version>/bin``;
    then ``initdb`` on ``PATH`` (other distributions, Homebrew).

    Example:
        >>> find_postgres_bindir()  # doctest: +SKIP
        PosixPath('/usr/lib/postgresql/15/bin')
    """
    candidates: list[Path] = []
    if configured := os.environ.get("RAYSTRA_TEST_PG_BINDIR"):
        candidates.append(Path(configured))
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        versions = [p for p in debian.iterdir() if re.fullmatch(r"\d+(\.\d+)?", p.name)]
        versions.sort(key=lambda p: tuple(int(n) for n in p.name.split(".")), reverse=True)
        candidates.extend(p / "bin" for p in versions)
    if on_path := shutil.which("initdb"):
        candidates.append(Path(on_path).parent)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "postgres").is_file():
            return bindir
    return None


@dataclass
class PostgresServer:
    """A running test server: where it listens, how to log in, and how to stop it.

    Example:
        >>> url = server.create_database(template="raystra_template")  # doctest: +SKIP
        >>> storage = SqlRunStorage(url)  # doctest: +SKIP
    """

    bindir: Path
    root: Path
    port: int
    password: str
    process: subprocess.Popen[bytes]
    database: str = "raystra"
    _created: int = field(default=0, repr=False)

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the database `start_postgres` created."""
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        """SQLAlchemy URL (psycopg 3 driver) of ``database`` on this server."""
        return f"postgresql+psycopg://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> Any:
        """A psycopg connection in autocommit mode (CREATE/DROP DATABASE need it)."""
        import psycopg

        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=SUPERUSER,
            password=self.password,
            dbname=database,
            autocommit=True,
            connect_timeout=5,
        )

    def create_database(self, name: str | None = None, *, template: str | None = None) -> str:
        """Create a database (a fresh empty one, or a copy of ``template``); return its URL."""
        if name is None:
            self._created += 1
            name = f"t{os.getpid()}_{self._created}"
        clause = f' TEMPLATE "{template}"' if template else ""
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"{clause}')
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name``, disconnecting whoever is still connected to it."""
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def log(self) -> str:
        """The server's log so far (for failure messages)."""
        path = self.root / "postgres.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Fast shutdown by the server's PID (SIGQUIT if it hangs), then remove its files."""
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGINT)
                try:
                    self.process.wait(_STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    self.process.send_signal(signal.SIGQUIT)
                    self.process.wait(_STOP_TIMEOUT_S)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_postgres(bindir: Path, *, database: str = "raystra") -> PostgresServer:
    """initdb, start and wait for a server, and create ``database`` in it.

    Example:
        >>> server = start_postgres(Path("/usr/lib/postgresql/15/bin"))  # doctest: +SKIP
    """
    account = _unprivileged_account()
    root = Path(tempfile.mkdtemp(prefix="raystra-pg-"))
    try:
        password = secrets.token_hex(16)
        _initdb(bindir, root, password, account)
        server = _start(bindir, root, password, account, database)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    try:
        server.create_database(database)
    except BaseException:
        server.stop()
        raise
    return server


@dataclass(frozen=True)
class _Account:
    """Who the server runs as: None fields mean "as this process"."""

    user: str | None = None
    uid: int = -1
    gid: int = -1

    def popen_kwargs(self) -> dict[str, Any]:
        if self.user is None:
            return {}
        # extra_groups=[] drops root's supplementary groups, as runuser does.
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def own(self, *paths: Path) -> None:
        if self.user is not None:
            for path in paths:
                os.chown(path, self.uid, self.gid)


def _unprivileged_account() -> _Account:
    if os.geteuid() != 0:
        return _Account()
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return _Account(user=name, uid=entry.pw_uid, gid=entry.pw_gid)
    raise RuntimeError(
        "PostgreSQL refuses to run as root, and neither a 'postgres' nor a 'nobody' user exists "
        "to run the test server as. Run the tests as an ordinary user, or create one of those."
    )


def _initdb(bindir: Path, root: Path, password: str, account: _Account) -> None:
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    account.own(root, pwfile)
    result = subprocess.run(
        [
            str(bindir / "initdb"),
            "--pgdata",
            str(root / "data"),
            "--username",
            SUPERUSER,
            f"--pwfile={pwfile}",
            # TCP needs the password; the unix socket sits in a directory only the owner enters.
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **account.popen_kwargs(),
    )
    pwfile.unlink()
    if result.returncode != 0:
        as_user = f" (as user {account.user})" if account.user else ""
        raise RuntimeError(
            f"initdb{as_user} failed with exit code {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}"
        )


def _start(
    bindir: Path, root: Path, password: str, account: _Account, database: str
) -> PostgresServer:
    sockets = root / "sockets"
    sockets.mkdir(mode=0o700)
    account.own(sockets)
    last_log = ""
    for _attempt in range(3):  # another process may take the free port before postgres binds it
        port = _free_port()
        with open(root / "postgres.log", "wb") as log:
            process = subprocess.Popen(
                [
                    str(bindir / "postgres"),
                    "-D",
                    str(root / "data"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-k",
                    str(sockets),
                    # A test server: durability off, small memory, enough connections for the
                    # concurrent-writer tests (each process holds a small pool).
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "shared_buffers=32MB",
                    "-c",
                    "max_connections=200",
                ],
                cwd=root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,  # only a prctl call, resolved beforehand
                **account.popen_kwargs(),
            )
        server = PostgresServer(
            bindir=bindir,
            root=root,
            port=port,
            password=password,
            process=process,
            database=database,
        )
        if _wait_ready(server):
            return server
        last_log = server.log()
        if process.poll() is None:
            process.kill()
            process.wait()
        if "could not bind" not in last_log and "in use" not in last_log:
            break
    raise RuntimeError(f"PostgreSQL did not start in {root}; its log:\n{last_log}")


def _wait_ready(server: PostgresServer) -> bool:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            server.connect().close()
            return True
        except Exception:  # "starting up", "connection refused": wait
            time.sleep(0.1)
    return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _libc_prctl() -> Any:
    with contextlib.suppress(OSError, AttributeError):
        return ctypes.CDLL(None, use_errno=True).prctl
    return None


# Looked up here, not in the forked child: dlopen there could wait on a lock another thread held.
_PRCTL = _libc_prctl()
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Have the kernel stop the server if pytest itself is killed (Linux PR_SET_PDEATHSIG).

    Runs in the child after the switch to the unprivileged user (a credential change clears
    the setting, so it must come after). SIGQUIT is PostgreSQL's immediate shutdown.
    """
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGQUIT)
