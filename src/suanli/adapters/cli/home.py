"""`suanli reset`: empty a home, to start again from nothing."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer

from suanli.adapters.cli.output import EXIT_BAD_INPUT, EXIT_SERVER, error, note, out

# What a home holds besides config.yaml: the SQLite database with its journal files, the
# scheduler's lock, and the local agent's folder (each attempt's files and logs).
DATABASE_FILES = ("suanli.db", "suanli.db-wal", "suanli.db-shm", "suanli.db-journal")
AGENT_FOLDER = "agent"


def reset(
    home: Annotated[Path | None, typer.Option(help="the home to empty [default: $SUANLI_HOME or ~/.suanli]")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask first")] = False,
) -> None:
    """Empty a home: every center, job and token in its SQLite database, and the job files and logs
    of its local agent. Its config.yaml stays. Refused while a server runs on the home.

    Example: suanli reset --home /tmp/suanli-demo --yes
    """
    from suanli.adapters.storage.leader import LOCK_FILE, FileLeaderLock
    from suanli.settings import load_settings

    settings = load_settings(**({"home": home} if home is not None else {}))
    home = settings.home
    if not settings.resolved_database_url.startswith("sqlite"):
        raise error(
            f"the home {home} keeps its data in another database ({settings.resolved_database_url.split('://')[0]}); "
            "reset empties SQLite homes only: drop and create that database instead",
            code=EXIT_BAD_INPUT,
        )
    doomed = [home / name for name in (*DATABASE_FILES, AGENT_FOLDER) if (home / name).exists()]
    if not doomed:
        note(f"the home {home} is empty already")
        return
    lock = FileLeaderLock(home / LOCK_FILE, "suanli reset")
    if not lock.try_acquire():  # every server on a SQLite home holds or waits for this lock
        running = (home / LOCK_FILE).read_text(errors="replace").strip() or "another process"
        raise error(f"a Suanli server runs on the home {home} ({running}); stop it first", code=EXIT_SERVER)
    try:
        if not yes and not typer.confirm(f"Delete every center, job and job log in {home}?", err=True):
            raise error("nothing was deleted", code=EXIT_BAD_INPUT)
        for path in doomed:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    finally:
        lock.release()
    out.print(f"emptied {home}: start again with `suanli up`")
