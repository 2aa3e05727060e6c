"""Secret environment values through the real API, on SQLite and PostgreSQL: no answer carries one
(submitted, listed, shown, explained, cancelled, refused), no log line and no audit entry holds
one, and the center's agent is handed the real value to run the job with."""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from suanli.composition import Container
from suanli.domain.jobs import SECRET_SHOWN_AS
from tests.integration.agent_api.conftest import register
from tests.integration.api.conftest import API, job, problem

SECRET = "hf_" + secrets.token_urlsafe(24)  # a fresh one each run: nothing else can hold it by chance


def secret_job(name: str = "uses-a-secret", **extra: Any) -> dict[str, Any]:
    return job(name, "A100:8", env={"HF_TOKEN": SECRET, "MODE": "fast"}, secret_env=["HF_TOKEN"], **extra)


class Answers:
    """Every answer the test received, to be searched at the end."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def keep(self, response: httpx.Response) -> httpx.Response:
        self.texts.append(f"{response.status_code} {dict(response.headers)} {response.text}")
        return response


def test_no_answer_log_or_audit_entry_holds_a_secret_and_the_agent_gets_it(
    api: TestClient, container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answers = Answers()
    keep = answers.keep
    agent = register(api, "qingdao-ai")

    submitted = keep(api.post(f"{API}/jobs", json=secret_job(), headers={"Idempotency-Key": "once"}))
    assert submitted.status_code == 201, submitted.text
    job_id = submitted.json()["id"]
    shown = submitted.json()["spec"]
    assert shown["env"] == {"HF_TOKEN": SECRET_SHOWN_AS, "MODE": "fast"} and shown["secret_env"] == ["HF_TOKEN"]
    replay = keep(api.post(f"{API}/jobs", json=secret_job(), headers={"Idempotency-Key": "once"}))
    assert replay.json()["id"] == job_id
    batch = keep(api.post(f"{API}/jobs/batch", json={"jobs": [secret_job("b1"), secret_job("b2")]}))
    assert batch.status_code == 201, batch.text

    container.loop.run_once()
    handed = {a["job_id"]: a for a in agent.poll().json()["assignments"]}
    assignment = handed[job_id]  # the agent protocol: the real value, to run the job with
    assert assignment["env"] == {"HF_TOKEN": SECRET, "MODE": "fast"}
    assert keep(agent.report(job_id, assignment["attempt"], "RUNNING")).status_code == 200

    for path in ("/jobs", "/jobs?status=RUNNING,PENDING", f"/jobs/{job_id}", f"/jobs/{job_id}/explain"):
        assert keep(api.get(f"{API}{path}")).status_code == 200, path
    assert keep(api.get(f"{API}/jobs/{job_id}/attempts")).json()["attempts"][0]["state"] == "RUNNING"
    cancelled = keep(api.post(f"{API}/jobs/{job_id}/cancel"))
    assert cancelled.json()["spec"]["env"]["HF_TOKEN"] == SECRET_SHOWN_AS

    # Refused requests that carry the secret somewhere: no message repeats it.
    refusals = [
        secret_job(priority="high"),  # another field is wrong
        job(env={"HF_TOKEN": SECRET + "\x00"}, secret_env=["HF_TOKEN"]),  # the value itself is
        job(env={"HF_TOKEN": SECRET * 1000}, secret_env=["HF_TOKEN"]),  # too long
        job(env={"HF_TOKEN": "x"}, secret_env=[SECRET]),  # pasted where its name belongs
        job(env={"HF_TOKEN": "x"}, secret_env=["HF_TOKEN", SECRET.replace("-", "_")]),  # ... looking like a name
        {**secret_job(), "unknown": 1},
    ]
    for body in refusals:
        assert keep(api.post(f"{API}/jobs", json=body)).status_code == 422, body
        assert keep(api.post(f"{API}/jobs/batch", json={"jobs": [secret_job(), body]})).status_code == 422
    malformed = json.dumps(secret_job())[:-2]
    for path in ("/jobs", "/jobs/batch"):
        sent = api.post(f"{API}{path}", content=malformed, headers={"Content-Type": "application/json"})
        problem(keep(sent), 400)

    entries = keep(api.get(f"{API}/audit", params={"limit": 1000})).json()["entries"]
    assert any(e["action"] == "POST /api/v1/jobs" for e in entries)

    assert SECRET in json.dumps(assignment)  # the search below can find it where it is
    leaks = [text[:300] for text in answers.texts if SECRET in text]
    assert leaks == [], "answers carry the secret"
    assert SECRET not in caplog.text
    assert not [entry for entry in entries if SECRET in json.dumps(entry)]
    assert container.store.get_job(job_id).spec.env["HF_TOKEN"] == SECRET  # kept, as stored


def test_a_job_without_secrets_is_shown_whole(api: TestClient) -> None:
    body = api.post(f"{API}/jobs", json=job(env={"MODE": "fast"})).json()
    assert body["spec"]["env"] == {"MODE": "fast"} and body["spec"]["secret_env"] == []


def test_a_secret_must_be_set_in_env(api: TestClient) -> None:
    body = problem(api.post(f"{API}/jobs", json=job(env={"A": "1"}, secret_env=["A", "B"])), 422)
    assert body["errors"][0]["field"] == "secret_env"
    assert "item 1 names a variable that env does not set" in body["detail"]


def test_the_agent_still_gets_the_secret_after_a_retry(api: TestClient, container: Container) -> None:
    agent = register(api, "qingdao-ai")
    job_id = api.post(f"{API}/jobs", json=secret_job(max_retries=1)).json()["id"]
    container.loop.run_once()
    (first,) = agent.poll().json()["assignments"]
    assert agent.report(job_id, first["attempt"], "REFUSED", message="no room after all").status_code == 200
    container.loop.run_once()
    (second,) = agent.poll().json()["assignments"]
    assert second["attempt"] > first["attempt"] and second["env"]["HF_TOKEN"] == SECRET
    assert api.get(f"{API}/jobs/{job_id}").json()["spec"]["env"]["HF_TOKEN"] == "***"
