"""The combined log of a gang attempt. Each rank writes its own file (the job never depends on
the agent to carry its output); the agent copies whole lines from them into one append-only
file, each prefixed with ``[rank N] ``, so byte offsets into it are stable for shipping.

With a ``progress`` file, the merger records after each copy how far it got (the combined
file's size and how much of each rank's file it holds), so that the agent that adopts the
attempt after a crash goes on where the dead one stopped (see ``resume``)."""

from __future__ import annotations

import os
from pathlib import Path

from suanli.agent.backends.local.supervisor import write_atomically

_CHUNK = 1 << 20
_LONGEST_LINE = 64 * 1024  # a line longer than this is cut, so a rank that never ends a line still shows


class RankLogMerger:
    def __init__(self, combined: Path, rank_paths: list[Path], progress: Path | None = None) -> None:
        self.combined = combined
        self._paths = rank_paths
        self._offsets = [0] * len(rank_paths)
        self._partial = [b""] * len(rank_paths)
        self._progress = progress

    @classmethod
    def resume(cls, combined: Path, rank_paths: list[Path], progress: Path) -> RankLogMerger:
        """The merger of an adopted attempt. Bytes past the recorded size were appended by an
        agent that died before recording them; it never shipped them either (it ships only after
        a copy is recorded), so they are cut and copied again, neither lost nor doubled."""
        merger = cls(combined, rank_paths, progress)
        try:
            size, *offsets = (int(field) for field in progress.read_text().split())
        except (OSError, ValueError):
            size, offsets = 0, []
        if len(offsets) == len(rank_paths):
            merger._offsets = offsets
        else:
            size = 0
        if combined.exists() and combined.stat().st_size > size:
            os.truncate(combined, size)
        return merger

    def pump(self, final: bool = False) -> None:
        """Copies the complete lines written since the last call; ``final`` also flushes the
        unfinished last line of each rank (call it once every rank has exited)."""
        out: list[bytes] = []
        for rank, path in enumerate(self._paths):
            prefix = f"[rank {rank}] ".encode()
            data = self._partial[rank] + self._read_new(rank, path)
            lines = data.split(b"\n")
            rest = lines.pop()
            out.extend(prefix + line + b"\n" for line in lines)
            if rest and (final or len(rest) > _LONGEST_LINE):
                out.append(prefix + rest + b"\n")
                rest = b""
            self._partial[rank] = rest
        if out:
            self.append(b"".join(out))

    def append(self, data: bytes) -> None:
        """Appends ``data`` to the combined log (the agent's own lines go through here too, so
        that they count in the recorded size)."""
        with self.combined.open("ab") as combined:
            combined.write(data)
            size = combined.tell()
        if self._progress is not None:
            held = [offset - len(partial) for offset, partial in zip(self._offsets, self._partial, strict=True)]
            write_atomically(str(self._progress), " ".join(map(str, [size, *held])).encode())

    def _read_new(self, rank: int, path: Path) -> bytes:
        try:
            with path.open("rb") as file:
                file.seek(self._offsets[rank])
                chunks = []
                while chunk := file.read(_CHUNK):
                    chunks.append(chunk)
        except FileNotFoundError:
            return b""
        data = b"".join(chunks)
        self._offsets[rank] += len(data)
        return data
