"""A throwaway PostgreSQL server for tests and benchmarks: the machine's own binaries.

    with TempPostgres() as pg:                    # initdb + pg_ctl into a temporary directory
        dsn = await pg.create_database()          # a fresh database, its postgresql:// URL
        async with PostgresStore(dsn) as store: ...

The server listens on a free loopback port only (no unix socket), trusts nobody
(scram-sha-256 with a random password) and runs without fsync (it is thrown away).
`initdb` refuses to run as root: as root, the server runs as the ``postgres``
system user (Debian's packages create it), owning its temporary directory.
Needs the `postgres` extra for `create_database` / `drop_database`.
"""

from __future__ import annotations

import glob
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["PostgresUnavailable", "TempPostgres", "find_postgres_bindir"]

#: what to install where no PostgreSQL server binaries are found
INSTALL_HINT = "install the PostgreSQL server (Debian/Ubuntu: apt-get install postgresql-15)"
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries (initdb, pg_ctl) on this machine."""


def find_postgres_bindir() -> Path | None:
    """The directory holding `initdb`, `pg_ctl` and `postgres`: $LOANLEDGER_PG_BINDIR when set
    (and only there), else the PATH, else the newest /usr/lib/postgresql/<version>/bin (where
    Debian installs them)."""
    wanted = os.environ.get("LOANLEDGER_PG_BINDIR")
    if wanted:
        return Path(wanted) if _has_server(Path(wanted)) else None
    candidates: list[Path] = []
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: _version_key(Path(p).parent.name))
    candidates += [Path(p) for p in reversed(debian)]
    return next((d for d in candidates if _has_server(d)), None)


def _has_server(d: Path) -> bool:
    return all((d / name).is_file() for name in ("initdb", "pg_ctl", "postgres"))


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", name)) or (0,)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TempPostgres:
    """One PostgreSQL server in a temporary directory, stopped and removed on exit."""

    def __init__(self, *, bindir: str | Path | None = None, user: str = "loanledger") -> None:
        found = Path(bindir) if bindir is not None else find_postgres_bindir()
        if found is None or not _has_server(found):
            where = f" in {found}" if found is not None else ""
            raise PostgresUnavailable(f"no PostgreSQL server binaries (initdb, pg_ctl, postgres) found{where}: "
                                      f"{INSTALL_HINT}")
        if not _NAME.fullmatch(user):
            raise ValueError(f"user: not a plain PostgreSQL role name: {user!r}")
        self.bindir = found
        self.user = user
        self.password = secrets.token_urlsafe(18)
        self.port = 0
        self._dir: Path | None = None
        self._run_as: tuple[int, int] | None = None

    def __repr__(self) -> str:
        state = f"127.0.0.1:{self.port}" if self._dir is not None else "stopped"
        return f"TempPostgres({str(self.bindir)!r}, {state})"

    # --- the server -----------------------------------------------------------------

    @property
    def dsn(self) -> str:
        """The URL of the maintenance database ``postgres`` (as the superuser)."""
        return self.dsn_for("postgres")

    def dsn_for(self, dbname: str) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> None:
        """initdb, then pg_ctl start on a free loopback port; raises RuntimeError with the
        server's log when it does not come up."""
        if self._dir is not None:
            return
        self._run_as = _postgres_user() if os.geteuid() == 0 else None
        root = Path(tempfile.mkdtemp(prefix="loanledger-pg-"))
        self._dir = root
        try:
            pwfile = root / "pw"
            pwfile.write_text(self.password + "\n")
            if self._run_as is not None:
                os.chown(root, *self._run_as)
                os.chown(pwfile, *self._run_as)
            self._run(["initdb", "-D", str(root / "data"), "-U", self.user, f"--pwfile={pwfile}",
                       "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync"], "initdb")
            pwfile.unlink()
            with open(root / "data" / "postgresql.conf", "a") as conf:
                conf.write(
                    "\n# loanledger TempPostgres: loopback only, no unix socket, thrown away (no fsync)\n"
                    "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"
                    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                    "max_connections = 200\nshared_buffers = 32MB\n"
                )
            for attempt in range(3):  # a free port can be taken between the probe and the bind
                self.port = _free_port()
                try:
                    self._run(["pg_ctl", "-D", str(root / "data"), "-l", str(root / "server.log"), "-w", "-t", "60",
                               "-o", f"-p {self.port}", "start"], "pg_ctl start")
                    return
                except RuntimeError:
                    if attempt == 2 or "could not bind" not in self.log():
                        raise
        except BaseException:
            self.stop()
            raise

    def log(self) -> str:
        """The server's log so far (empty before start)."""
        if self._dir is None:
            return ""
        try:
            return (self._dir / "server.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server (immediately: nothing in it is kept) and remove its directory."""
        root, self._dir = self._dir, None
        if root is None:
            return
        try:
            if (root / "data" / "postmaster.pid").exists():
                self._run(["pg_ctl", "-D", str(root / "data"), "-m", "immediate", "-w", "stop"], "pg_ctl stop",
                          check=False)
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def __enter__(self) -> TempPostgres:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _run(self, argv: list[str], what: str, *, check: bool = True) -> None:
        kwargs: dict[str, Any] = {}
        if self._run_as is not None:
            kwargs.update(user=self._run_as[0], group=self._run_as[1], extra_groups=[])
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        proc = subprocess.run([str(self.bindir / argv[0]), *argv[1:]], capture_output=True, text=True, env=env,
                              cwd=self._dir or "/", stdin=subprocess.DEVNULL, timeout=120, **kwargs)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{what} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}\n"
                               f"server log:\n{self.log()[-2000:]}")

    # --- databases ------------------------------------------------------------------

    async def create_database(self, name: str | None = None) -> str:
        """CREATE DATABASE (a fresh unique name unless given); returns its URL."""
        import psycopg

        name = name or f"t_{secrets.token_hex(6)}"
        if not _NAME.fullmatch(name):
            raise ValueError(f"name: not a plain database name: {name!r}")
        async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
            await conn.execute(f"CREATE DATABASE {name}")
        return self.dsn_for(name)

    async def drop_database(self, name: str) -> None:
        """DROP DATABASE, disconnecting whoever is still connected."""
        import psycopg

        if not _NAME.fullmatch(name):
            raise ValueError(f"name: not a plain database name: {name!r}")
        async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _postgres_user() -> tuple[int, int]:
    """(uid, gid) of the ``postgres`` system user, which runs the server when we are root."""
    import pwd

    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError(
            "running as root: initdb refuses root, and there is no 'postgres' system user to run the server as "
            "(the PostgreSQL packages create it; or run the tests as another user)"
        ) from None
    return entry.pw_uid, entry.pw_gid
