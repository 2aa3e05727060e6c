"""The Kubernetes executor's calls to the API server through the official client (imported
here, lazily): one call with a timeout and no client retries, answered as parsed JSON, and
failures sorted into "no answer, try later" and "the API server said no"."""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable
from typing import Any


class KubernetesUnavailable(Exception):
    """The API server did not answer (or answered 5xx / 429): try again later."""


class Rejected(Exception):
    """The API server answered no (4xx): its message is for the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status = status


def make_api_client(kubeconfig: str | None = None, context: str | None = None) -> Any:
    """An ApiClient from a kubeconfig file (``kubeconfig``, else ``$KUBECONFIG`` or ~/.kube/config),
    or the pod's service account when the agent runs inside the cluster. No client retries:
    the executor's own polls retry."""
    client, config = module("kubernetes.client"), module("kubernetes.config")
    configuration = client.Configuration()
    if kubeconfig is None and context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config(client_configuration=configuration)
    else:
        config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration)
    configuration.retries = 0
    return client.ApiClient(configuration)


class ApiCaller:
    """Calls client methods with ``timeout`` (connect, read) and parses their JSON answer."""

    def __init__(self, timeout: tuple[float, float]) -> None:
        client, urllib3 = module("kubernetes.client"), module("urllib3")
        self.timeout = timeout
        self._api_exception: type[Exception] = client.ApiException
        self._transport_errors: tuple[type[Exception], ...] = (urllib3.exceptions.HTTPError, OSError)

    def __call__(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One API call with our timeout, answered as parsed JSON (dicts, not client models).
        Raises KubernetesUnavailable (no answer, 5xx, 429) or Rejected (any other 4xx)."""
        data = self.raw(method, *args, **kwargs)
        try:
            return json.loads(data) if data else {}
        except ValueError as error:
            raise KubernetesUnavailable(f"the API server's answer is not JSON: {data[:200]!r}") from error

    def raw(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> bytes:
        """The same, answered as the bytes of the body (pod logs)."""
        try:
            response = method(*args, _request_timeout=self.timeout, _preload_content=False, **kwargs)
            return bytes(response.data or b"")
        except self._api_exception as error:
            status = int(getattr(error, "status", 0) or 0)
            message = api_message(error)
            if status == 0 or status == 429 or status >= 500:
                raise KubernetesUnavailable(f"the API server answered {status or ''} {message}".strip()) from error
            raise Rejected(status, message) from error
        except self._transport_errors as error:  # timeouts, refused connections, resets
            raise KubernetesUnavailable(f"cannot reach the API server: {type(error).__name__}: {error}") from error


def module(name: str) -> Any:
    """A module of the optional ``kubernetes`` client (untyped to us: its calls are wrapped)."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise ImportError(
            "the Kubernetes backend needs the kubernetes client: pip install 'suanli[kubernetes]'"
        ) from error


def api_message(error: Exception) -> str:
    body = getattr(error, "body", None)
    if body:
        try:
            return str(json.loads(body).get("message") or body)[:500]
        except (ValueError, AttributeError):
            return str(body)[:500]
    return str(getattr(error, "reason", "") or error)[:500]
