"""The Ray Jobs API client, imported lazily (Ray is the optional ``ray`` extra), with a timeout
on every HTTP call so that a hung Ray head never hangs the agent.

``JobSubmissionClient`` sends its requests through ``requests`` without a timeout; its
``_do_request`` forwards keyword arguments to ``requests.request``, so a subclass adds one.
"""

from __future__ import annotations

import re
from typing import Any

_MISSING = re.compile(r"status code 404")
_EXISTS = re.compile(r"already exists", re.IGNORECASE)


class RayUnavailable(Exception):
    """The Ray head did not answer (down, restarting, unreachable, or too slow)."""


class RayMissing(Exception):
    """Ray answered that it does not know this job."""


class RayRequestFailed(Exception):
    """Ray answered with an error about this request (shown to the user)."""


def import_ray_jobs() -> Any:
    try:
        import ray.job_submission as job_submission  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "the Ray backend needs Ray's Jobs SDK: pip install 'suanli[ray]' (or 'ray[default]')"
        ) from error
    return job_submission


def make_client(address: str, timeout_s: float) -> Any:
    """A JobSubmissionClient whose every request gives up after ``timeout_s``. Contacts Ray
    (its constructor checks the version): raises RayUnavailable when Ray does not answer."""
    job_submission = import_ray_jobs()

    class _TimedClient(job_submission.JobSubmissionClient):  # type: ignore[misc, name-defined]
        def _do_request(self, method: str, endpoint: str, **kwargs: Any) -> Any:
            kwargs.setdefault("timeout", timeout_s)
            return super()._do_request(method, endpoint, **kwargs)

    return call(lambda: _TimedClient(address))


def call(fn: Any) -> Any:
    """Runs one client call, sorting its failures into RayUnavailable / RayMissing / RayRequestFailed."""
    import requests  # type: ignore[import-not-found, import-untyped, unused-ignore]

    try:
        return fn()
    except (requests.RequestException, OSError) as error:  # ConnectionError is an OSError
        raise RayUnavailable(_short(error)) from error
    except RuntimeError as error:
        text = str(error)
        if _MISSING.search(text):
            raise RayMissing(_short(error)) from error
        if re.search(r"status code 5\d\d", text) and not _EXISTS.search(text):
            raise RayUnavailable(_short(error)) from error
        raise RayRequestFailed(_short(error)) from error


def already_exists(error: Exception) -> bool:
    return bool(_EXISTS.search(str(error)))


def _short(error: BaseException) -> str:
    """The line of an error worth showing: Ray returns whole server tracebacks in its messages."""
    text = str(error).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if re.match(r"^[A-Za-z_.]*(Error|Exception):", line):
            return line[:500]
    return (lines[0] if lines else type(error).__name__)[:500]
