"""Local jobs run as another user (``run_as``, `suanli agent --run-as USER`): the job has that
user's uid and groups, can use its working folder and log, and cannot read the server's SQLite
database. Needs root (to create the user and to start processes as it)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from suanli.adapters.storage.engine import make_engine
from suanli.agent.backends.local.executor import LocalExecutor
from suanli.agent.executor import AttemptKey, AttemptSpec, AttemptState
from suanli.settings import private_home
from tests.integration.agent.conftest import wait_final

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason=f"jobs run as another user only under a root agent; this test runs as uid {os.geteuid()}"
)
USER = "suanli-job"


@pytest.fixture(scope="module")
def job_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        if shutil.which("useradd") is None:
            pytest.skip("no useradd here to create the job user")
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/bin/sh", USER], check=True)
        return pwd.getpwnam(USER)


@pytest.fixture
def reachable() -> Iterator[Path]:
    """A folder the job user can pass through (pytest's tmp_path sits in a folder only root may enter)."""
    folder = Path(tempfile.mkdtemp(prefix="suanli-run-as-", dir="/tmp"))
    folder.chmod(0o711)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_job_runs_as_the_user_and_cannot_read_the_database(job_user: pwd.struct_passwd, reachable: Path) -> None:
    home = reachable / "home"
    private_home(home)
    database = home / "suanli.db"
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE secrets (value TEXT)")
    engine.dispose()
    command = (
        f'id -u; id -G; echo "$USER $HOME"; touch made-here; '
        f"if cat {database} >/dev/null 2>&1; then echo database: read; else echo database: refused; fi"
    )
    key = AttemptKey(50, 1)
    with LocalExecutor(reachable / "work", declared="A100-80G:1", run_as=USER, stop_grace_s=1) as executor:
        executor.start(AttemptSpec(key=key, name="as-user", command=command, owner="o"))
        status = wait_final(executor, key)
        output = executor.read_logs(key, 0).decode().splitlines()

    assert (status.state, status.exit_code) == (AttemptState.SUCCEEDED, 0), output
    uid, groups, identity, database_read = output
    assert int(uid) == job_user.pw_uid and int(uid) != 0
    assert "0" not in groups.split()  # root's group is not among the job's
    assert identity == f"{USER} {job_user.pw_dir}"
    assert database_read == "database: refused"
    assert (reachable / "work" / "50-1" / "made-here").stat().st_uid == job_user.pw_uid
    assert f"{os.stat(database).st_mode & 0o777:o}" == "600"


def test_run_as_is_refused_where_it_cannot_work(job_user: pwd.struct_passwd, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no user 'no-such-user-here'"):
        LocalExecutor(tmp_path / "a", declared="A100-80G:1", run_as="no-such-user-here")
    with pytest.raises(ValueError, match="that user is root"):
        LocalExecutor(tmp_path / "b", declared="A100-80G:1", run_as="root")
    with pytest.raises(ValueError, match=f"{USER}: that user cannot reach .* choose a --work-dir"):
        LocalExecutor(tmp_path / "c", declared="A100-80G:1", run_as=USER)  # pytest's tmp_path is 0700
