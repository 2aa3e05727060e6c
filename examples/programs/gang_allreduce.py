"""One rank of a gang job whose ranks really talk: a tiny all-reduce over TCP (stdlib only).

Suanli's local executor starts one process per node slot with RANK, WORLD_SIZE, MASTER_ADDR and
MASTER_PORT set (docs/local-executor.md). Rank 0 listens on MASTER_ADDR:MASTER_PORT; every
other rank connects (retrying until --timeout) and sends its vector; rank 0 adds them all up
with its own and sends the sum back; every rank checks it against the sum it expects and prints
it. Rank r contributes ``(r + 1) * [1, 2, ..., --length]``, so with 2 ranks the sum is
``[3, 6, 9, 12]``.

Exit status: 0 when the sum agrees, 1 when it does not, 2 on a missing variable, a timeout or a
broken connection.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from typing import Any


def say(rank: int, world: int, text: str, *, error: bool = False) -> None:
    print(f"rank {rank}/{world}: {text}", file=sys.stderr if error else sys.stdout, flush=True)


def contribution(rank: int, length: int) -> list[int]:
    return [(rank + 1) * (i + 1) for i in range(length)]


def expected_sum(world: int, length: int) -> list[int]:
    return [sum(contribution(r, length)[i] for r in range(world)) for i in range(length)]


def send(conn: socket.socket, message: dict[str, Any]) -> None:
    conn.sendall(json.dumps(message).encode() + b"\n")


def receive(conn: socket.socket, deadline: float) -> dict[str, Any]:
    data = b""
    while not data.endswith(b"\n"):
        conn.settimeout(max(deadline - time.monotonic(), 0.01))
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("the peer closed the connection")
        data += chunk
    message: dict[str, Any] = json.loads(data)
    return message


def reduce_as_leader(addr: str, port: int, world: int, mine: list[int], deadline: float) -> list[int]:
    """Rank 0: accepts every other rank, adds up the vectors, and sends the sum back."""
    with socket.create_server((addr, port), backlog=world) as server:
        say(0, world, f"listening on {addr}:{port} for {world - 1} peer(s)")
        peers: dict[int, socket.socket] = {}
        total = list(mine)
        try:
            while len(peers) < world - 1:
                server.settimeout(max(deadline - time.monotonic(), 0.01))
                conn, _ = server.accept()
                message = receive(conn, deadline)
                rank, value = int(message["rank"]), [int(v) for v in message["value"]]
                if rank in peers or not 0 < rank < world or len(value) != len(total):
                    raise ValueError(f"unexpected message {message}")
                peers[rank] = conn
                total = [a + b for a, b in zip(total, value, strict=True)]
                say(0, world, f"received {value} from rank {rank}")
            for conn in peers.values():
                send(conn, {"sum": total})
        finally:
            for conn in peers.values():
                conn.close()
        return total


def reduce_as_follower(rank: int, addr: str, port: int, world: int, mine: list[int], deadline: float) -> list[int]:
    """Any other rank: connects to rank 0 (it may not listen yet), sends, waits for the sum."""
    attempts = 0
    while True:
        attempts += 1
        try:
            conn = socket.create_connection((addr, port), timeout=max(deadline - time.monotonic(), 0.01))
            break
        except OSError as error:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"could not reach rank 0 at {addr}:{port} after {attempts} tries: {error}"
                ) from error
            time.sleep(0.1)
    with conn:
        say(rank, world, f"connected to rank 0 at {addr}:{port} (try {attempts})")
        send(conn, {"rank": rank, "value": mine})
        return [int(v) for v in receive(conn, deadline)["sum"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--length", type=int, default=4, help="length of each rank's vector (default 4)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the peers (default 60)")
    args = parser.parse_args(argv)
    try:
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        addr, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
    except (KeyError, ValueError) as error:
        print(
            f"error: RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT must be set (run me as a gang job): {error}",
            file=sys.stderr,
            flush=True,
        )
        return 2
    job = os.environ.get("SUANLI_JOB_ID", "-")
    attempt = os.environ.get("SUANLI_ATTEMPT", "-")
    mine = contribution(rank, args.length)
    say(rank, world, f"suanli job {job} attempt {attempt}; rendezvous at {addr}:{port}; contributing {mine}")
    deadline = time.monotonic() + args.timeout
    try:
        if rank == 0:
            total = reduce_as_leader(addr, port, world, mine, deadline)
        else:
            total = reduce_as_follower(rank, addr, port, world, mine, deadline)
    except (OSError, ValueError, KeyError) as error:  # socket timeouts are OSErrors
        say(rank, world, f"error: all-reduce failed: {type(error).__name__}: {error}", error=True)
        return 2
    expected = expected_sum(world, args.length)
    if total != expected:
        say(rank, world, f"error: all-reduce sum {total} differs from the expected {expected}", error=True)
        return 1
    say(rank, world, f"all-reduce sum {total} OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
