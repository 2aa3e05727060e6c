"""Local jobs run as another user (``suanli agent --run-as USER``), for machines where jobs are
not trusted with the agent's own files: its token, its work folders, a database next to it.
See docs/local-executor.md for what this does and does not isolate."""

from __future__ import annotations

import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class RunAs:
    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str

    @classmethod
    def resolve(cls, name: str) -> RunAs:
        """The user ``name``; ValueError, with what to do, when jobs cannot run as it here."""
        if os.geteuid() != 0:
            raise ValueError(
                f"--run-as {name} needs the agent to run as root (it runs as uid {os.geteuid()}): only root "
                "can start processes as another user"
            )
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise ValueError(f"--run-as: there is no user {name!r} on this machine (create it first)") from None
        if entry.pw_uid == 0:
            raise ValueError(f"--run-as {name}: that user is root, which isolates nothing; name an unprivileged user")
        groups = tuple(os.getgrouplist(name, entry.pw_gid))
        return cls(name, entry.pw_uid, entry.pw_gid, groups, entry.pw_dir)

    def launch_user(self) -> tuple[int, int, list[int]]:
        """How the supervisor drops to this user for a rank: uid, gid, supplementary groups."""
        return self.uid, self.gid, list(self.groups)

    def identity(self) -> dict[str, str]:
        """The environment variables that name the user a process runs as."""
        return {"HOME": self.home, "USER": self.name, "LOGNAME": self.name}

    def can_enter(self, folder: Path) -> bool:
        """Whether this user may pass through ``folder`` (its x permission, by owner, group or others)."""
        info = folder.stat()
        if info.st_uid == self.uid:
            return bool(info.st_mode & stat.S_IXUSR)
        if info.st_gid in self.groups:
            return bool(info.st_mode & stat.S_IXGRP)
        return bool(info.st_mode & stat.S_IXOTH)

    def check_reachable(self, folder: Path) -> None:
        """ValueError unless this user can reach ``folder`` (where the jobs' working folders are)."""
        folder = folder.resolve()
        for step in [*reversed(folder.parents), folder]:
            if not self.can_enter(step):
                raise ValueError(
                    f"--run-as {self.name}: that user cannot reach {folder}, because it may not enter {step} "
                    f"(mode {stat.S_IMODE(step.stat().st_mode):04o}); choose a --work-dir that it can reach, "
                    "outside SUANLI_HOME (which is private), e.g. /var/lib/suanli-agent"
                )
