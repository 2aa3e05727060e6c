"""The API's audit trail on SQLite and PostgreSQL: what is recorded (and what is not), with which
actor, action, target, result, request id and client; the audit endpoints; a failure to record
never fails the request."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from starlette.responses import Response

from suanli.adapters.api import create_app
from suanli.adapters.api.audit import AuditTrail, target_of
from suanli.composition import Container, build_container
from suanli.domain.audit import AuditEntry
from suanli.services.ports import AuditFilter
from suanli.settings import Settings
from tests.integration.api.conftest import API, center, problem
from tests.signed_in import signed_in
from tests.waiting import wait_until


def entries(container: Container) -> list[AuditEntry]:
    """The whole log, oldest first."""
    return list(reversed(container.audit.list(AuditFilter(), limit=1000).entries))


def test_a_state_changing_request_is_recorded_with_its_request_id(api: TestClient, container: Container) -> None:
    response = api.post(f"{API}/centers", json=center("qd-ai-1"))
    assert response.status_code == 201
    request_id = response.headers["X-Request-ID"]
    [entry] = entries(container)
    assert entry.sequence == 1
    assert entry.action == "POST /api/v1/centers"
    assert entry.target == "centers"
    assert entry.result == "201"
    assert entry.request_id == request_id
    assert entry.client == "testclient"
    who = api.get(f"{API}/whoami").json()  # the signed-in admin: who the entry names
    assert (entry.actor, entry.organization) == (f"{who['kind']}:{who['name']}", who["organization"])
    login = entries(container)[-1]  # a token checked (as `suanli login` does) is recorded too
    assert (login.action, login.result, login.actor) == ("GET /api/v1/whoami", "200", entry.actor)


def test_a_refused_request_is_recorded(container: Container) -> None:
    anonymous = TestClient(create_app(container))
    assert anonymous.post(f"{API}/centers", json=center("c1")).status_code == 401
    wrong = TestClient(create_app(container), headers={"Authorization": "Bearer sk_not-a-token"})
    assert wrong.get(f"{API}/jobs").status_code == 401  # a read, but refused: recorded
    recorded = [(e.actor, e.action, e.result) for e in entries(container)]
    assert recorded == [("anonymous", "POST /api/v1/centers", "401"), ("anonymous", "GET /api/v1/jobs", "401")]


def test_the_target_is_the_resource_named_in_the_path(api: TestClient, container: Container) -> None:
    api.post(f"{API}/centers", json=center("qd-ai-1")).raise_for_status()
    api.post(f"{API}/centers/qd-ai-1/drain").raise_for_status()
    api.post(f"{API}/centers/qd-ai-1/tokens").raise_for_status()  # a token mint is recorded too
    job = api.post(f"{API}/jobs", json={"name": "t", "command": ["true"]}).json()
    api.post(f"{API}/jobs/{job['id']}/cancel").raise_for_status()
    api.delete(f"{API}/centers/nowhere")  # refused (404): recorded with its status
    recorded = [(e.action, e.target, e.result) for e in entries(container)]
    assert recorded == [
        ("POST /api/v1/centers", "centers", "201"),
        ("POST /api/v1/centers/qd-ai-1/drain", "centers/qd-ai-1", "200"),
        ("POST /api/v1/centers/qd-ai-1/tokens", "centers/qd-ai-1", "201"),
        ("POST /api/v1/jobs", "jobs", "201"),
        (f"POST /api/v1/jobs/{job['id']}/cancel", f"jobs/{job['id']}", "200"),
        ("DELETE /api/v1/centers/nowhere", "centers/nowhere", "404"),
    ]


def test_reads_are_not_recorded_and_a_given_request_id_is_kept(api: TestClient, container: Container) -> None:
    api.get(f"{API}/centers").raise_for_status()
    api.get(f"{API}/jobs").raise_for_status()
    assert entries(container) == []
    response = api.post(f"{API}/centers", json=center("c1"), headers={"X-Request-ID": "from-the-gateway-1"})
    assert response.headers["X-Request-ID"] == "from-the-gateway-1"
    assert entries(container)[-1].request_id == "from-the-gateway-1"
    # One that no log line should carry (spaces, too long) is replaced by a fresh one.
    response = api.get(f"{API}/health", headers={"X-Request-ID": "has spaces"})
    assert response.headers["X-Request-ID"] != "has spaces"
    assert len(response.headers["X-Request-ID"]) == 32


def test_the_agent_protocol_is_recorded_only_when_refused(api: TestClient, container: Container) -> None:
    api.post(f"{API}/centers", json=center("c1")).raise_for_status()
    token = api.post(f"{API}/centers/c1/tokens").json()["token"]
    before = len(entries(container))
    hello = {"protocol": 1, "center": "c1", "pools": [], "running": []}
    api.post(f"{API}/agent/hello", json=hello, headers={"Authorization": f"Bearer {token}"})
    assert len(entries(container)) == before  # its effects are recorded on the attempts
    refused = api.post(f"{API}/agent/hello", json=hello, headers={"Authorization": "Bearer wrong"})
    assert refused.status_code == 401
    last = entries(container)[-1]
    assert (last.action, last.result, last.actor) == ("POST /api/v1/agent/hello", "401", "anonymous")
    api.get(f"{API}/agent/assignments", params={"wait": 0})  # no token at all: a refused read
    assert [e.result for e in entries(container)][-1] == "401"


def test_the_audit_endpoints_list_filter_page_and_verify(api: TestClient, container: Container) -> None:
    for i in range(3):
        api.post(f"{API}/centers", json=center(f"c{i}")).raise_for_status()
    api.post(f"{API}/centers/nowhere/drain")
    page = api.get(f"{API}/audit", params={"limit": 2}).json()
    assert [e["sequence"] for e in page["entries"]] == [4, 3]
    assert page["next_cursor"] == "3"
    rest = api.get(f"{API}/audit", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [e["sequence"] for e in rest["entries"]] == [2, 1] and rest["next_cursor"] is None
    refused = api.get(f"{API}/audit", params={"result": "404"}).json()["entries"]
    assert [e["target"] for e in refused] == ["centers/nowhere"]
    drains = api.get(f"{API}/audit", params={"action": "POST /api/v1/centers/"}).json()["entries"]
    assert [e["sequence"] for e in drains] == [4]
    assert api.get(f"{API}/audit", params={"since": "2999-01-01T00:00:00Z"}).json()["entries"] == []
    assert len(api.get(f"{API}/audit", params={"until": "2999-01-01T00:00:00+08:00"}).json()["entries"]) == 4
    # Anyone can check an entry's hash as docs/security.md says, from the API's JSON alone.
    for entry in page["entries"] + rest["entries"]:
        fields = {k: entry[k] for k in ("sequence", "actor", "organization", "action", "target", "result")}
        fields |= {
            "request_id": entry["request_id"],
            "client": entry["client"],
            "previous_hash": entry["previous_hash"],
        }
        fields["at"] = datetime.fromisoformat(entry["at"]).astimezone(UTC).isoformat(timespec="microseconds")
        text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert hashlib.sha256(text).hexdigest() == entry["hash"]
    verified = api.get(f"{API}/audit/verify").json()
    assert verified["ok"] is True and verified["entries"] == 4 and verified["problems"] == []
    assert verified["last_sequence"] == 4 and verified["last_hash"] == page["entries"][0]["hash"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"since": "yesterday"}, "since"), ({"until": "2026-02-30T00:00:00Z"}, "until"), ({"cursor": "x"}, "cursor")],
)
def test_bad_audit_filters_are_refused_naming_them(api: TestClient, params: dict[str, str], field: str) -> None:
    body = problem(api.get(f"{API}/audit", params=params), 422)
    assert any(field in f["field"] for f in body["errors"]), body


def test_a_failure_to_record_does_not_fail_the_request(
    api: TestClient, container: Container, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def gone(*_: Any) -> list[AuditEntry]:
        raise RuntimeError("the audit table is gone")

    monkeypatch.setattr(container.audit.store, "append", gone)
    assert api.post(f"{API}/centers", json=center("c1")).status_code == 201
    container.audit.flush()
    # Logged by the writer thread, just after the write failed.
    wait_until(lambda: "could not record POST /api/v1/centers (201" in caplog.text, "the failure was not logged")
    assert "the audit table is gone" in caplog.text
    monkeypatch.setattr(container.audit, "record_later", lambda **_: 1 / 0)  # a bug before the writer
    assert api.post(f"{API}/centers/c1/drain").status_code == 200
    assert "could not record POST /api/v1/centers/c1/drain" in caplog.text


def test_with_audit_wait_the_entry_is_stored_before_the_answer(settings: Settings) -> None:
    container = build_container(settings.model_copy(update={"audit_wait": True}))
    try:
        api = signed_in(container)
        for i in range(3):
            response = api.post(f"{API}/centers", json=center(f"c{i}"))
            assert response.status_code == 201
            # Read from the store itself, not through the service (whose reads flush the writer first).
            newest = container.audit.store.list_entries(AuditFilter(), before=None, limit=1).entries
            assert [(e.sequence, e.request_id) for e in newest] == [(i + 1, response.headers["X-Request-ID"])]
    finally:
        container.close()


# -- the middleware on its own: who acted, and refusals on any route ------------------------------


def small_app(container: Container) -> TestClient:
    """Routes that set a principal as authentication does, and refuse as it does."""
    app = FastAPI()

    @app.post("/api/v1/things/{name}/poke")
    def poke(name: str, request: Request) -> Response:
        request.state.principal = SimpleNamespace(name="alice", kind="user", organization="acme")
        return Response(status_code=200)

    @app.get("/api/v1/secrets")
    def secrets(request: Request) -> Response:
        request.state.principal = SimpleNamespace(name="bob", kind="user", organization="lab")
        return Response(status_code=403)

    @app.get("/api/v1/open")
    def open_read() -> Response:
        return Response(status_code=200)

    @app.get("/api/v1/whoami")
    def whoami(request: Request) -> Response:
        request.state.principal = SimpleNamespace(name="ci", kind="service", organization="acme")
        return Response(status_code=200)

    reads = frozenset({f"{API}/whoami"})
    wrapped = AuditTrail(app, audit=container.audit, prefix=API, unaudited=(f"{API}/agent",), reads=reads)
    return TestClient(wrapped)  # type: ignore[arg-type]


def test_the_actor_and_organization_come_from_the_principal(container: Container) -> None:
    client = small_app(container)
    assert client.post(f"{API}/things/t1/poke").status_code == 200
    assert client.get(f"{API}/open").status_code == 200  # a read that is let through: not recorded
    assert client.get(f"{API}/secrets").status_code == 403  # a refused read: recorded
    assert client.get(f"{API}/whoami").status_code == 200  # a token checked at login: recorded
    recorded = [(e.actor, e.organization, e.action, e.target, e.result) for e in entries(container)]
    assert recorded == [
        ("user:alice", "acme", "POST /api/v1/things/t1/poke", "things/t1", "200"),
        ("user:bob", "lab", "GET /api/v1/secrets", "secrets", "403"),
        ("service:ci", "acme", "GET /api/v1/whoami", "whoami", "200"),
    ]
    assert container.audit.verify().ok


def test_target_of_paths() -> None:
    assert target_of("/api/v1/centers", API, {}) == "centers"
    assert target_of("/api/v1/jobs/batch", API, {}) == "jobs"
    assert target_of("/api/v1/jobs/42/cancel", API, {"job_id": "42"}) == "jobs/42"
    assert target_of("/api/v1/organizations/acme/members", API, {"org": "acme"}) == "organizations/acme"
    assert target_of("/api/v1/tokens/sk_ab12", API, {"prefix": "sk_ab12"}) == "tokens/sk_ab12"
    assert target_of("/elsewhere", API, {}) == "elsewhere"
