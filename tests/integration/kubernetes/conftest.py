"""Fixtures: the Kubernetes executor against kmock's API emulator (emulator.py) on a free local
port. Every test here is skipped, with the reason, when kmock or the kubernetes client is not
installed."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from suanli.agent.backends.kubernetes.executor import KubernetesExecutor
    from tests.integration.kubernetes.emulator import EmulatedApiServer

_namespaces = itertools.count(1)


def require_emulator() -> None:
    pytest.importorskip(
        "kubernetes", reason="the kubernetes client is not installed (pip install 'suanli[kubernetes]')"
    )
    pytest.importorskip("kmock", reason="the kmock API emulator is not installed (pip install kmock)")


@pytest.fixture(scope="session")
def apiserver() -> Iterator[EmulatedApiServer]:
    require_emulator()
    from tests.integration.kubernetes.emulator import EmulatedApiServer

    server = EmulatedApiServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def kubeconfig(apiserver: EmulatedApiServer, tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: emu\n"
        f"clusters: [{{name: emu, cluster: {{server: '{apiserver.url}'}}}}]\n"
        "users: [{name: agent, user: {token: test-token}}]\n"
        "contexts: [{name: emu, context: {cluster: emu, user: agent}}]\n"
    )
    return path


@pytest.fixture
def namespace() -> str:
    return f"suanli-t{next(_namespaces)}"


@pytest.fixture
def executor(kubeconfig: Path, namespace: str) -> Iterator[KubernetesExecutor]:
    from suanli.agent.backends.kubernetes.executor import KubernetesExecutor

    made = KubernetesExecutor(
        kubeconfig=str(kubeconfig),
        namespace=namespace,
        center="qingdao-ai",
        poll_interval_s=0.0,
        retry_s=0.0,
        log_refresh_s=0.0,
        connect_timeout_s=1.0,
        request_timeout_s=3.0,
    )
    try:
        yield made
    finally:
        made.close()
