"""The combined log of a gang attempt. Each rank writes its own file (the job never depends on
the agent to carry its output); the agent copies whole lines from them into one append-only
file, each prefixed with ``[rank N] ``, so byte offsets into it are stable for shipping."""

from __future__ import annotations

from pathlib import Path

_CHUNK = 1 << 20
_LONGEST_LINE = 64 * 1024  # a line longer than this is cut, so a rank that never ends a line still shows


class RankLogMerger:
    def __init__(self, combined: Path, rank_paths: list[Path]) -> None:
        self.combined = combined
        self._paths = rank_paths
        self._offsets = [0] * len(rank_paths)
        self._partial = [b""] * len(rank_paths)

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
            with self.combined.open("ab") as combined:
                combined.write(b"".join(out))

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
