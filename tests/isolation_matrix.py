"""The isolation matrix (issue 12): every route of the API's OpenAPI document × every role × a
target of the caller's own organization or of another one, with the answer the rules expect in
each cell and the answer the server gives.

The rules are written here (``MAY``, ``within_reach``, ``expected``), apart from
``suanli.domain.permissions`` on purpose: the matrix checks the code against the rules of
docs/security.md, not the code against itself. What a route does, and how to fill its path, body
and query for a target, is its recipe (``RECIPES``); a route of the OpenAPI document without one
fails tests/integration/api/test_isolation_matrix.py, naming it.

Everything is set up and asked through the real API (an in-process TestClient over
``create_app``), as the installation's first admin and as one principal per role of the
organization "acme" (own), against "rival" (the other organization):

- own / other: a target of acme / of rival (its job, center, project, member, token...);
- placed: a job of rival placed on a center acme owns (what a center operator of acme sees);
- the agents' protocol (/agent/...) is its own small matrix: a center's agent token against its
  own center's attempts and another center's, and every role's API token, which it refuses.

A cell that changes something acts on a fresh target of its own (a new center, job, token,
principal...), so that cells do not depend on each other; its recipe reads the target's state
(as the admin) before and after, and a refused request must leave it as it was.

``python -m tests.isolation_matrix --write docs/security.md`` regenerates the table in
docs/security.md (between the markers of its section "Isolation matrix"); ``--check`` says
whether it is current.
"""

from __future__ import annotations

import argparse
import functools
import secrets
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from suanli.adapters.api import create_app
from suanli.adapters.storage.tables import api_tokens, center_tokens, principals
from suanli.composition import Container, build_container
from suanli.domain.identity import Role
from suanli.domain.jobs import JobSpec
from suanli.protocol.agent import PROTOCOL
from suanli.settings import Settings
from tests.signed_in import admin_token

API = "/api/v1"
OWN_ORG, OTHER_ORG = "acme", "rival"
OWN, OTHER, PLACED = "own", "other", "placed"
TARGETS = (OWN, OTHER, PLACED)
AGENT = "agent"  # the caller of the agents' protocol: a center's own agent token
ROLES = tuple(Role)
SECRET_ENV = "secret_env" in JobSpec.model_fields  # secret environment values (issue 12)
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})

# What a cell's answer is, as the table shows it.
ALLOWED = "✓"  # 2xx: done, or shown (for a listing: with the target in it)
FILTERED = "filtered"  # a listing that answers 200 without the target in it
FORBIDDEN = "403"
HIDDEN = "404"  # as if the target did not exist
UNAUTHENTICATED = "401"
NO_CELL = "—"
_REACH = {ALLOWED: 2, FILTERED: 1}  # how much of the target an answer gives; refusals give none

MARKERS = (
    "<!-- isolation-matrix:begin (generated: python -m tests.isolation_matrix --write docs/security.md) -->",
    "<!-- isolation-matrix:end -->",
)
REGENERATE = "python -m tests.isolation_matrix --write docs/security.md"
WIDTH = 100  # of the prose the table's section holds


# -- the rules -------------------------------------------------------------------------------------

# What each role may do, from the rules of issue 12 (docs/security.md, "Who may do what"):
# a platform admin everything, in every organization; an organization admin everything in its
# own; a member submits, sees and cancels its organization's jobs and reads centers, the status
# and its organization; a viewer only reads; a center operator registers and runs the centers
# its organization owns (pools, drain, agent tokens) and sees the jobs placed on them, without
# their output; an auditor reads the audit log. Everyone reads the network's status, says who
# it is and manages its own tokens, password and browser session.
ACTIONS = frozenset(
    {
        "public",
        "status.read",
        "job.submit",
        "job.read",
        "job.cancel",
        "job.logs",
        "center.read",
        "center.register",
        "center.manage",
        "center.token",
        "org.read",
        "org.manage",
        "self",
        "audit.read",
        "usage.read",
        "invoice.read",
        "statement.read",
    }
)
_EVERYONE = frozenset({"public", "status.read", "self"})  # self: one's own tokens, password and session
MAY: dict[Role, frozenset[str]] = {
    Role.PLATFORM_ADMIN: ACTIONS,
    Role.ORG_ADMIN: ACTIONS,  # within its own organization: see within_reach
    Role.MEMBER: _EVERYONE
    | {"job.submit", "job.read", "job.cancel", "job.logs", "center.read", "org.read", "usage.read", "invoice.read"},
    Role.VIEWER: _EVERYONE | {"job.read", "job.logs", "center.read", "org.read", "usage.read", "invoice.read"},
    Role.CENTER_OPERATOR: _EVERYONE
    | {"center.read", "center.register", "center.manage", "center.token", "job.read", "usage.read"}
    | {"statement.read"},  # what its organization earns as a center owner; not what it owes
    Role.AUDITOR: _EVERYONE | {"audit.read", "org.read", "usage.read", "invoice.read"},
}


@dataclass(frozen=True)
class Call:
    """One request of a cell, with how to judge its answer and the target's state."""

    method: str
    path: str  # below /api/v1, filled in
    json: Any = None
    params: dict[str, Any] | None = None
    content: bytes | None = None
    token: str | None = None  # instead of the caller's own API token (an agent's center token)
    session: tuple[str, str] | None = None  # instead of a token: a browser session's cookies and CSRF token
    shows: Callable[[Any], bool] | None = None  # a listing: does its answer show the target?
    state: Callable[[], Any] | None = None  # the target's state, read as the admin


Build = Callable[["World", str, str], Call]  # (world, caller's name, target) -> the request


@dataclass(frozen=True)
class Recipe:
    """How to ask a route about a target, and what the rules say about it."""

    action: str  # what the route does, in the words of MAY
    build: Build
    targets: tuple[str, ...] = (OWN, OTHER)
    beyond: str = FORBIDDEN  # the answer for a target out of the caller's reach
    shared: bool = False  # another organization's target is everyone's to read (the network's centers)
    personal: bool = False  # the route shows only the caller's own things, to anyone (GET /tokens)
    fixed: str | None = None  # the answer to everyone: the route does not look at who asks or at what
    others_need: str | None = None  # acting on another's target needs this too, asked before the target
    note: str = ""  # said under the table

    def __post_init__(self) -> None:
        assert self.action in ACTIONS, self.action


def within_reach(role: Role, recipe: Recipe, target: str) -> bool:
    """Whether a target is the caller's to act on, by the rules."""
    if target == OWN:
        return True
    if recipe.personal:
        return False
    if role is Role.PLATFORM_ADMIN or recipe.shared:
        return True
    # Another organization's job placed on one of its organization's centers: a center operator
    # sees it and its usage there (and nothing more: no output, no cancelling); nobody else of
    # that organization does.
    return target == PLACED and role is Role.CENTER_OPERATOR and recipe.action in ("job.read", "usage.read")


def expected(recipe: Recipe, role: Role, target: str) -> str:
    if recipe.fixed is not None:
        return recipe.fixed
    if recipe.action not in MAY[role]:
        return FORBIDDEN  # refused before the target is looked at: says nothing about it
    if within_reach(role, recipe, target):
        return ALLOWED
    if recipe.others_need is not None and recipe.others_need not in MAY[role]:
        return FORBIDDEN  # the same: one who may not act for others learns nothing of them
    return recipe.beyond


def expected_of_agent(caller: str, target: str) -> str:
    """The agents' protocol: a center's token acts on that center's attempts alone (another
    center's attempt answers 403, docs/agent-protocol.md); a person's API token is no agent's."""
    if caller != AGENT:
        return UNAUTHENTICATED
    return ALLOWED if target == OWN else FORBIDDEN


# Cells where the code answers otherwise than the rules, for a known reason: the test marks them
# xfail(strict=True), so that each flips to a failure, and its entry here is removed, once the
# code follows the rules.
KNOWN: dict[str, str] = {}


# -- cells -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    route: str  # "GET /jobs/{job_id}"
    caller: str  # a Role's value, or AGENT
    target: str

    @property
    def id(self) -> str:
        return f"{self.route}-{self.caller}-{self.target}"

    @property
    def agent_protocol(self) -> bool:
        return is_agent_route(self.route)

    def expected(self) -> str:
        if self.agent_protocol:
            return expected_of_agent(self.caller, self.target)
        return expected(RECIPES[self.route], Role(self.caller), self.target)


def is_agent_route(route: str) -> bool:
    return route.split(" ", 1)[1].startswith("/agent/")


def routes_of(app: Any) -> list[str]:
    """Every route of the app's OpenAPI document, as "METHOD /path" below /api/v1."""
    return [
        f"{method.upper()} {path.removeprefix(API)}"
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method in HTTP_METHODS
    ]


@functools.cache
def app_routes() -> tuple[str, ...]:
    """The routes of the API as it is built today (a throwaway installation; about 0.2 s)."""
    with tempfile.TemporaryDirectory() as home:
        container = build_container(settings_for(Path(home)))
        try:
            return tuple(routes_of(create_app(container)))
        finally:
            container.close()


def cells_of(routes: tuple[str, ...] | list[str]) -> list[Cell]:
    """The matrix's cells for the routes that have a recipe (those without one are reported by
    the test, not skipped silently)."""
    cells = []
    for route in routes:
        if is_agent_route(route) and route in AGENT_RECIPES:
            targets = AGENT_RECIPES[route][1]
            cells += [Cell(route, caller, t) for caller in (AGENT, *(r.value for r in ROLES)) for t in targets]
        elif route in RECIPES:
            recipe = RECIPES[route]
            cells += [Cell(route, role.value, t) for role in ROLES for t in TARGETS if t in recipe.targets]
    return cells


def missing_recipes(routes: tuple[str, ...] | list[str]) -> list[str]:
    return [r for r in routes if r not in RECIPES and r not in AGENT_RECIPES]


# -- the world: two organizations and their things, set up through the API -----------------------


class SetupFailed(AssertionError):
    pass


@dataclass
class Observation:
    status: int
    mark: str
    detail: str  # the answer, cut short, for messages
    before: Any = None
    after: Any = None
    changes: bool = False  # the request is one that changes something (its recipe reads a state)
    shows_secret: bool = False  # the answer holds the value of a secret environment variable

    @property
    def changed(self) -> bool:
        return self.changes and self.before != self.after


@dataclass
class World:
    container: Container
    client: TestClient
    tokens: dict[str, str]  # principal name (or "admin") -> its API token
    jobs: dict[str, int] = field(default_factory=dict)  # target -> the shared job of that target
    centers: dict[str, str] = field(default_factory=dict)  # org -> its shared center
    center_tokens: dict[str, str] = field(default_factory=dict)  # center -> its agent's token
    observed: dict[str, Observation] = field(default_factory=dict)
    # The value of a secret environment variable of every shared job: no answer may show it.
    secret: str = field(default_factory=lambda: "hf_" + secrets.token_urlsafe(24))
    _count: int = 0

    # requests --------------------------------------------------------------------------------

    def request(self, who: str, call: Call) -> httpx.Response:
        if call.session is not None:
            cookies, csrf = call.session
            headers = {"Cookie": cookies, "X-CSRF-Token": csrf}
        else:
            headers = {"Authorization": f"Bearer {call.token or self.tokens[who]}"}
        return self.client.request(
            call.method, API + call.path, json=call.json, params=call.params, content=call.content, headers=headers
        )

    def ok(self, who: str, method: str, path: str, **kwargs: Any) -> Any:
        """A setup request, which must succeed; its JSON answer (or text)."""
        response = self.request(who, Call(method, path, **kwargs))
        if not 200 <= response.status_code < 300:
            raise SetupFailed(f"setup: {method} {path} as {who} answered {response.status_code}: {response.text}")
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    def fresh(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}-{self._count}"

    def cycle(self) -> None:
        self.container.loop.run_once()

    # people ----------------------------------------------------------------------------------

    def add_principal(self, name: str, org: str, role: Role, *, token: bool = True) -> str:
        self.ok("admin", "POST", f"/organizations/{org}/members", json={"name": name, "role": role.value})
        if token:
            self.tokens[name] = self.ok("admin", "POST", "/tokens", json={"name": "matrix", "principal": name})["token"]
        return name

    def new_principal(self, org: str, *, disabled: bool = False) -> str:
        name = self.add_principal(self.fresh(f"{org}-p"), org, Role.MEMBER, token=False)
        if disabled:
            self.ok("admin", "POST", f"/principals/{name}/disable")
        return name

    def new_token(self, principal: str) -> str:
        """A fresh token of ``principal`` (minted by the admin); its prefix."""
        made = self.ok("admin", "POST", "/tokens", json={"name": self.fresh("t"), "principal": principal})
        return str(made["prefix"])

    def member(self, name: str) -> Any:
        found = self.container.identity.store.get_member(name)
        return None if found is None else (found.organization, sorted(found.roles), found.disabled)

    def token_names(self, principal: str) -> list[str]:
        return sorted(t.name for t in self.container.identity.list_tokens(principal))

    def token_revoked(self, prefix: str) -> Any:
        info = self.container.identity.store.get_token(prefix)
        return None if info is None else info.revoked_at

    def set_password(self, name: str) -> str:
        """A new password for ``name``, set by the admin."""
        password = f"correct horse {self.fresh('battery')}"
        self.ok("admin", "PUT", f"/principals/{name}/password", json={"password": password})
        return password

    def password_hash(self, name: str) -> Any:
        found = self.container.identity.store.password_hash(name)
        return None if found is None else found[1]

    def session_of(self, name: str) -> tuple[tuple[str, str], str]:
        """A browser session of ``name`` (signed in with a password the admin sets): its cookies
        and CSRF token, and its token's prefix."""
        body = {"name": name, "password": self.set_password(name), "grant": "session"}
        response = self.client.post(f"{API}/auth/login", json=body)
        if response.status_code != 200:
            raise SetupFailed(f"setup: signing in as {name} answered {response.status_code}: {response.text}")
        self.client.cookies.clear()  # sent explicitly by the cell that uses them, never by another
        cookies = "; ".join(f"{key}={value}" for key, value in response.cookies.items())
        answer = response.json()
        return (cookies, answer["csrf_token"]), answer["token_prefix"]

    # centers ---------------------------------------------------------------------------------

    def new_center(self, org: str, *, drained: bool = False) -> str:
        name = self.fresh(f"{org}-c")
        self.ok(f"{org}-owner", "POST", "/centers", json=center_body(name))
        if drained:
            self.ok(f"{org}-owner", "POST", f"/centers/{name}/drain")
        return name

    def new_agent(self, org: str) -> tuple[str, str]:
        """A fresh center of ``org`` and its agent's token."""
        center = self.new_center(org)
        return center, self.ok("admin", "POST", f"/centers/{center}/tokens")["token"]

    def center(self, name: str) -> Any:
        response = self.request("admin", Call("GET", f"/centers/{name}"))
        if response.status_code != 200:
            return response.status_code
        body = response.json()
        return body["state"], body["version"], body["pools"], body["agent_last_seen"]

    def rates(self, name: str) -> Any:
        """The center's prices (as the admin): each rate's pool, start and accelerator-hour price."""
        listed = self.ok("admin", "GET", f"/centers/{name}/rates")["rates"]
        return [(r["pool"], r["effective_from"], r["per_accelerator_hour"]) for r in listed]

    def center_token_count(self, name: str) -> int:
        with self.container.store.engine.connect() as connection:
            statement = select(func.count()).select_from(center_tokens).where(center_tokens.c.center == name)
            return int(connection.execute(statement).scalar_one())

    def people_and_tokens(self) -> tuple[int, int]:
        """How many principals and API tokens (sessions included) the installation has."""
        with self.container.store.engine.connect() as connection:
            people = connection.execute(select(func.count()).select_from(principals)).scalar_one()
            tokens = connection.execute(select(func.count()).select_from(api_tokens)).scalar_one()
        return int(people), int(tokens)

    def agent_answer(self, token: str) -> int:
        """What the center's agent gets with ``token``: 200, or 401 once it is revoked."""
        return self.request(
            AGENT, Call("GET", "/agent/assignments", params={"protocol": PROTOCOL}, token=token)
        ).status_code

    # jobs ------------------------------------------------------------------------------------

    def submit(self, who: str, name: str, *, on: str | None = None, secret: bool = False) -> int:
        """A job of ``who``'s organization: placed on the center ``on`` after a cycle, or, without
        one, asking for an accelerator no center has (it waits, and never takes capacity); with
        the world's secret in its environment if ``secret``."""
        body = job_body(name, on=on, secret=self.secret if secret else None)
        job_id = int(self.ok(who, "POST", "/jobs", json=body)["id"])
        if on is not None:
            self.cycle()
            placed = self.ok("admin", "GET", f"/jobs/{job_id}")
            if (placed.get("placement") or {}).get("center") != on:
                raise SetupFailed(f"setup: job {job_id} was to be placed on {on}: {placed}")
        return job_id

    def new_job(self, target: str) -> int:
        if target == OWN:
            return self.submit(f"{OWN_ORG}-user", self.fresh("job"))
        if target == OTHER:
            return self.submit(f"{OTHER_ORG}-user", self.fresh("job"))
        return self.submit(f"{OTHER_ORG}-user", self.fresh("job"), on=self.centers[OWN_ORG])

    def job(self, job_id: int) -> Any:
        body = self.ok("admin", "GET", f"/jobs/{job_id}")
        return body["status"], body["attempts"], body["updated_at"]

    def all_jobs(self) -> list[dict[str, Any]]:
        return list(self.ok("admin", "GET", "/jobs", params={"limit": 1000})["jobs"])

    def new_attempt(self, org: str) -> tuple[str, str, int]:
        """A fresh center of ``org``, its agent's token, and a job placed there (attempt 1)."""
        center, token = self.new_agent(org)
        return center, token, self.submit(f"{org}-user", self.fresh("job"), on=center)

    def attempt(self, job_id: int) -> Any:
        return [(a["state"], a["center"]) for a in self.ok("admin", "GET", f"/jobs/{job_id}/attempts")["attempts"]]


def org_of(target: str) -> str:
    return OWN_ORG if target == OWN else OTHER_ORG


def caller_name(role: Role | str) -> str:
    return f"{OWN_ORG}-{Role(role).value}"


def pool(nodes: int = 2) -> dict[str, Any]:
    return {
        "name": "gpu",
        "accelerator": "A100",
        "accelerators_per_node": 8,
        "cpus_per_node": 96,
        "memory_gb_per_node": 1024,
        "nodes": nodes,
        "price_per_accelerator_hour": 10.0,
    }


def center_body(name: str) -> dict[str, Any]:
    return {"name": name, "owner": f"{name} operators", "kind": "ai", "region": "qingdao", "pools": [pool()]}


def job_body(name: str, *, on: str | None = None, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "command": ["python", "train.py"]}
    if secret is not None and SECRET_ENV:
        body["env"] = {"HF_TOKEN": secret, "MODE": "fast"}
        body["secret_env"] = ["HF_TOKEN"]
    if on is None:
        body["resources"] = {"accelerators": "H100:1"}  # no center has one: it waits
    else:
        body["resources"] = {"accelerators": "A100:1"}
        body["constraints"] = {"centers": [on]}
    return body


def build_world(container: Container) -> World:
    """Two organizations, acme (own) and rival (other), each with a project, an admin ("owner")
    and a member ("user") that set things up, a center it owns and jobs placed there; and in acme
    one principal per role, each with a full API token."""
    world = World(container, TestClient(create_app(container)), {"admin": admin_token(container)})
    for org in (OWN_ORG, OTHER_ORG):
        world.ok("admin", "POST", "/organizations", json={"name": org, "kind": "enterprise"})
        world.ok("admin", "POST", f"/organizations/{org}/projects", json={"name": "research"})
        world.add_principal(f"{org}-owner", org, Role.ORG_ADMIN)
        world.add_principal(f"{org}-user", org, Role.MEMBER)
        world.centers[org] = f"{org}-ai"
        world.ok(f"{org}-owner", "POST", "/centers", json=center_body(f"{org}-ai"))
    for role in ROLES:
        world.add_principal(caller_name(role), OWN_ORG, role)

    world.jobs[OWN] = world.submit(f"{OWN_ORG}-user", "acme-job", on="acme-ai", secret=True)
    world.jobs[OTHER] = world.submit(f"{OTHER_ORG}-user", "rival-job", on="rival-ai", secret=True)
    world.jobs[PLACED] = world.submit(f"{OTHER_ORG}-user", "rival-job-on-acme", on="acme-ai", secret=True)
    # Their centers' agents take them, run them and ship some output.
    for center, jobs in (("acme-ai", [world.jobs[OWN], world.jobs[PLACED]]), ("rival-ai", [world.jobs[OTHER]])):
        token = world.center_tokens[center] = world.ok("admin", "POST", f"/centers/{center}/tokens")["token"]
        agent = functools.partial(world.ok, AGENT)
        agent("POST", "/agent/hello", json=hello_body(), token=token)
        taken = agent("GET", "/agent/assignments", params={"protocol": PROTOCOL}, token=token)["assignments"]
        if sorted(a["job_id"] for a in taken) != sorted(jobs):
            raise SetupFailed(f"setup: the agent of {center} was to take jobs {jobs}: {taken}")
        for job_id in jobs:
            running = {"protocol": PROTOCOL, "state": "RUNNING"}
            agent("POST", f"/agent/attempts/{job_id}/1/state", json=running, token=token)
            output = f"output of job {job_id}\n".encode()
            agent("POST", f"/agent/attempts/{job_id}/1/logs", params=log_params(), content=output, token=token)
    return world


def hello_body() -> dict[str, Any]:
    return {"protocol": PROTOCOL, "agent_version": "matrix", "pools": [pool()], "running": []}


def log_params() -> dict[str, Any]:
    return {"offset": 0, "protocol": PROTOCOL}


def settings_for(home: Path) -> Settings:
    """An installation in ``home`` on SQLite, whatever SUANLI_DATABASE_URL says, whose agents are
    not declared gone however slowly the matrix runs (the world's jobs stay where they run)."""
    return Settings(home=home, database_url=f"sqlite:///{home / 'suanli.db'}", agent_offline_after_s=86400)


@contextmanager
def world_in(home: Path) -> Iterator[World]:
    container = build_container(settings_for(home))
    try:
        yield build_world(container)
    finally:
        container.close()


# -- recipes ---------------------------------------------------------------------------------------


def _names(items: list[dict[str, Any]], key: str = "name") -> set[Any]:
    return {item[key] for item in items}


def _on_own_center(job: dict[str, Any]) -> bool:
    return str((job.get("placement") or {}).get("center", "")).startswith(f"{OWN_ORG}-")


def status(w: World, who: str, target: str) -> Call:
    if target == OWN:
        return Call("GET", "/status")
    own = sum(1 for j in w.all_jobs() if j["tenant_id"] == OWN_ORG)
    # The queue's counts are the caller's organization's: more than acme's shows rival's too.
    return Call("GET", "/status", shows=lambda body: sum(body["queue"]["jobs"].values()) != own)


def list_centers(w: World, who: str, target: str) -> Call:
    name = w.centers[org_of(target)]
    return Call("GET", "/centers", shows=lambda body: name in _names(body["centers"]))


def add_center(w: World, who: str, target: str) -> Call:
    name = w.fresh(f"{OWN_ORG}-c")
    return Call("POST", "/centers", json=center_body(name), state=lambda: w.center(name))


def get_center(w: World, who: str, target: str) -> Call:
    return Call("GET", f"/centers/{w.centers[org_of(target)]}")


def change_center(method: str, suffix: str = "", *, drained: bool = False, body: Any = None) -> Build:
    def build(w: World, who: str, target: str) -> Call:
        name = w.new_center(org_of(target), drained=drained)
        return Call(method, f"/centers/{name}{suffix}", json=body, state=lambda: w.center(name))

    return build


def read_rates(w: World, who: str, target: str) -> Call:
    return Call("GET", f"/centers/{w.centers[org_of(target)]}/rates")


def publish_rate(w: World, who: str, target: str) -> Call:
    name = w.new_center(org_of(target))
    body = {"pool": "gpu", "per_accelerator_hour": "12.5"}
    return Call("POST", f"/centers/{name}/rates", json=body, state=lambda: w.rates(name))


def withdraw_rate(w: World, who: str, target: str) -> Call:
    # A price the center's organization published for tomorrow: only one not yet in force may go.
    name = w.new_center(org_of(target))
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    body = {"pool": "gpu", "per_accelerator_hour": "20", "effective_from": tomorrow}
    w.ok(f"{org_of(target)}-owner", "POST", f"/centers/{name}/rates", json=body)
    params = {"pool": "gpu", "effective_from": tomorrow}
    return Call("DELETE", f"/centers/{name}/rates", params=params, state=lambda: w.rates(name))


def mint_center_token(w: World, who: str, target: str) -> Call:
    name = w.new_center(org_of(target))
    return Call("POST", f"/centers/{name}/tokens", state=lambda: w.center_token_count(name))


def revoke_center_tokens(w: World, who: str, target: str) -> Call:
    name, token = w.new_agent(org_of(target))
    return Call("DELETE", f"/centers/{name}/tokens", state=lambda: w.agent_answer(token))


def submit_job(w: World, who: str, target: str) -> Call:
    name = w.fresh("job")
    return Call("POST", "/jobs", json=job_body(name), state=lambda: _jobs_named(w, name))


def submit_batch(w: World, who: str, target: str) -> Call:
    name = w.fresh("job")
    return Call("POST", "/jobs/batch", json={"jobs": [job_body(name)]}, state=lambda: _jobs_named(w, name))


def _jobs_named(w: World, name: str) -> int:
    return len(w.ok("admin", "GET", "/jobs", params={"name": name})["jobs"])


def list_jobs(w: World, who: str, target: str) -> Call:
    def shows(body: Any) -> bool:
        jobs = body["jobs"]
        if target == OTHER:  # rival's jobs that are not placed on acme's centers
            return any(j["tenant_id"] == OTHER_ORG and not _on_own_center(j) for j in jobs)
        return w.jobs[target] in _names(jobs, "id")

    return Call("GET", "/jobs", params={"limit": 1000}, shows=shows)


def read_job(suffix: str = "") -> Build:
    def build(w: World, who: str, target: str) -> Call:
        return Call("GET", f"/jobs/{w.jobs[target]}{suffix}")

    return build


def cancel_job(w: World, who: str, target: str) -> Call:
    job_id = w.new_job(target)
    return Call("POST", f"/jobs/{job_id}/cancel", state=lambda: w.job(job_id))


def whoami(w: World, who: str, target: str) -> Call:
    return Call("GET", "/whoami")


def list_tokens(w: World, who: str, target: str) -> Call:
    if target == OWN:
        return Call("GET", "/tokens", shows=lambda body: who in _names(body["tokens"], "principal"))
    return Call("GET", "/tokens", shows=lambda body: bool(_names(body["tokens"], "principal") - {who}))


def mint_token(w: World, who: str, target: str) -> Call:
    name = w.fresh("t")
    if target == OWN:
        return Call("POST", "/tokens", json={"name": name}, state=lambda: w.token_names(who))
    other = f"{OTHER_ORG}-user"
    return Call("POST", "/tokens", json={"name": name, "principal": other}, state=lambda: w.token_names(other))


def revoke_token(w: World, who: str, target: str) -> Call:
    prefix = w.new_token(who if target == OWN else f"{OTHER_ORG}-user")
    return Call("DELETE", f"/tokens/{prefix}", state=lambda: w.token_revoked(prefix))


def list_organizations(w: World, who: str, target: str) -> Call:
    org = org_of(target)
    return Call("GET", "/organizations", shows=lambda body: org in _names(body["organizations"]))


def add_organization(w: World, who: str, target: str) -> Call:
    name = w.fresh("org")
    state = lambda: name in _names(w.ok("admin", "GET", "/organizations")["organizations"])  # noqa: E731
    return Call("POST", "/organizations", json={"name": name, "kind": "enterprise"}, state=state)


def list_projects(w: World, who: str, target: str) -> Call:
    return Call("GET", f"/organizations/{org_of(target)}/projects")


def add_project(w: World, who: str, target: str) -> Call:
    org, name = org_of(target), w.fresh("p")
    state = lambda: _names(w.ok("admin", "GET", f"/organizations/{org}/projects")["projects"])  # noqa: E731
    return Call("POST", f"/organizations/{org}/projects", json={"name": name}, state=state)


def list_members(w: World, who: str, target: str) -> Call:
    return Call("GET", f"/organizations/{org_of(target)}/members")


def add_member(w: World, who: str, target: str) -> Call:
    org, name = org_of(target), w.fresh(f"{org_of(target)}-m")
    body = {"name": name, "role": Role.MEMBER.value}
    return Call("POST", f"/organizations/{org}/members", json=body, state=lambda: w.member(name))


def remove_member(w: World, who: str, target: str) -> Call:
    org = org_of(target)
    name = w.new_principal(org)
    return Call("DELETE", f"/organizations/{org}/members/{name}", state=lambda: w.member(name))


def set_disabled(disable: bool) -> Build:
    def build(w: World, who: str, target: str) -> Call:
        name = w.new_principal(org_of(target), disabled=not disable)
        action = "disable" if disable else "enable"
        return Call("POST", f"/principals/{name}/{action}", state=lambda: w.member(name))

    return build


def read_audit(w: World, who: str, target: str) -> Call:
    org = org_of(target)
    # What the other organization's admin did (registering its center, among others).
    params = {"actor": f"user:{org}-owner", "limit": 1000}
    return Call("GET", "/audit", params=params, shows=lambda body: org in _names(body["entries"], "organization"))


def ended_job(w: World, target: str) -> int:
    """A job that ran and ended, so it has usage: acme's on a new acme center (own), rival's on a
    new rival center (other), rival's on a new acme center (placed); made once per world."""
    key = f"ended-{target}"
    if key not in w.jobs:
        center, token = w.new_agent(OTHER_ORG if target == OTHER else OWN_ORG)
        job_id = w.submit(f"{org_of(target)}-user", w.fresh("job"), on=center)
        agent = functools.partial(w.ok, AGENT, token=token)
        agent("GET", "/agent/assignments", params={"protocol": PROTOCOL})
        for state in ("RUNNING", "SUCCEEDED"):
            agent("POST", f"/agent/attempts/{job_id}/1/state", json={"protocol": PROTOCOL, "state": state})
        w.jobs[key] = job_id
    return w.jobs[key]


def read_usage(w: World, who: str, target: str) -> Call:
    job_id = ended_job(w, target)
    shows = lambda body: job_id in {r["job_id"] for r in body["items"]}  # noqa: E731
    return Call("GET", "/usage", params={"limit": 1000}, shows=shows)


def read_accounts(w: World, who: str, target: str) -> Call:
    org = org_of(target)
    shows = lambda body: any(item["owner"] == org for item in body["items"])  # noqa: E731
    return Call("GET", "/accounts", shows=shows)


def read_invoice(w: World, who: str, target: str) -> Call:
    return Call("GET", f"/invoices/{org_of(target)}")


def read_statement(w: World, who: str, target: str) -> Call:
    return Call("GET", f"/statements/{org_of(target)}")


def verify_audit(w: World, who: str, target: str) -> Call:
    return Call("GET", "/audit/verify")


def health(w: World, who: str, target: str) -> Call:
    return Call("GET", "/health")


def login(w: World, who: str, target: str) -> Call:
    # Anyone may try; what lets one in is the password. A fresh user of acme signs in for a token.
    name = w.new_principal(OWN_ORG)
    body = {"name": name, "password": w.set_password(name), "grant": "token"}
    return Call("POST", "/auth/login", json=body, state=lambda: w.token_names(name))


def logout(w: World, who: str, target: str) -> Call:
    # The caller ends its own browser session: the one the request comes with.
    session, prefix = w.session_of(who)
    return Call("POST", "/auth/logout", session=session, state=lambda: w.token_revoked(prefix))


def single_sign_on(method: str, path: str, body: Any = None) -> Build:
    def build(w: World, who: str, target: str) -> Call:
        return Call(method, path, json=body, state=w.people_and_tokens)

    return build


SSO_OFF = (
    "the ways in of single sign-on are public and look at no token: the matrix's installation has no "
    "OpenID provider, so they answer 404 (single sign-on is off) to everyone and change nothing"
)


def set_password(w: World, who: str, target: str) -> Call:
    if target == OWN:  # one's own, with the current one
        body = {"password": f"correct horse {w.fresh('staple')}", "current_password": w.set_password(who)}
        return Call("PUT", f"/principals/{who}/password", json=body, state=lambda: w.password_hash(who))
    name = w.new_principal(OTHER_ORG)
    body = {"password": f"correct horse {w.fresh('staple')}"}
    return Call("PUT", f"/principals/{name}/password", json=body, state=lambda: w.password_hash(name))


JOB_TARGETS = (OWN, OTHER, PLACED)
RECIPES: dict[str, Recipe] = {
    "GET /health": Recipe("public", health, targets=(OWN,)),
    "GET /status": Recipe("status.read", status, beyond=FILTERED),
    "GET /whoami": Recipe("status.read", whoami, targets=(OWN,)),
    # signing in and out: one's own password, one's own session
    "POST /auth/login": Recipe("public", login, targets=(OWN,)),
    "POST /auth/logout": Recipe("self", logout, targets=(OWN,)),
    # another's: an admin of theirs; another organization's names are not there
    "PUT /principals/{name}/password": Recipe("self", set_password, beyond=HIDDEN, others_need="org.manage"),
    "GET /auth/oidc/login": Recipe(
        "public", single_sign_on("GET", "/auth/oidc/login"), targets=(OWN,), fixed=HIDDEN, note=SSO_OFF
    ),
    "GET /auth/oidc/callback": Recipe(
        "public",
        single_sign_on("GET", "/auth/oidc/callback?code=c&state=s"),
        targets=(OWN,),
        fixed=HIDDEN,
        note=SSO_OFF,
    ),
    "POST /auth/oidc/device": Recipe(
        "public", single_sign_on("POST", "/auth/oidc/device"), targets=(OWN,), fixed=HIDDEN, note=SSO_OFF
    ),
    "POST /auth/oidc/device/token": Recipe(
        "public",
        single_sign_on("POST", "/auth/oidc/device/token", {"device_code": "matrix"}),
        targets=(OWN,),
        fixed=HIDDEN,
        note=SSO_OFF,
    ),
    # centers: the network's are everyone's to see; only their organization changes them
    "GET /centers": Recipe("center.read", list_centers, shared=True),
    "POST /centers": Recipe("center.register", add_center, targets=(OWN,)),  # for the caller's organization
    "GET /centers/{name}": Recipe("center.read", get_center, shared=True),
    "DELETE /centers/{name}": Recipe("center.manage", change_center("DELETE")),
    "PUT /centers/{name}/pools": Recipe("center.manage", change_center("PUT", "/pools", body={"pools": [pool(3)]})),
    "POST /centers/{name}/drain": Recipe("center.manage", change_center("POST", "/drain")),
    "POST /centers/{name}/resume": Recipe("center.manage", change_center("POST", "/resume", drained=True)),
    "POST /centers/{name}/tokens": Recipe("center.token", mint_center_token),
    "DELETE /centers/{name}/tokens": Recipe("center.token", revoke_center_tokens),
    # prices: the network's are everyone's to read, as its centers; only their organization sets them
    "GET /centers/{name}/rates": Recipe("center.read", read_rates, shared=True),
    "POST /centers/{name}/rates": Recipe("center.manage", publish_rate),
    "DELETE /centers/{name}/rates": Recipe("center.manage", withdraw_rate),
    # jobs: another organization's job is not there at all
    "POST /jobs": Recipe("job.submit", submit_job, targets=(OWN,)),  # always for the caller's organization
    "POST /jobs/batch": Recipe("job.submit", submit_batch, targets=(OWN,)),
    "GET /jobs": Recipe("job.read", list_jobs, targets=JOB_TARGETS, beyond=FILTERED),
    "GET /jobs/{job_id}": Recipe("job.read", read_job(), targets=JOB_TARGETS, beyond=HIDDEN),
    "POST /jobs/{job_id}/cancel": Recipe("job.cancel", cancel_job, targets=JOB_TARGETS, beyond=HIDDEN),
    "GET /jobs/{job_id}/explain": Recipe("job.read", read_job("/explain"), targets=JOB_TARGETS, beyond=HIDDEN),
    "GET /jobs/{job_id}/attempts": Recipe("job.read", read_job("/attempts"), targets=JOB_TARGETS, beyond=HIDDEN),
    "GET /jobs/{job_id}/logs": Recipe("job.logs", read_job("/logs"), targets=JOB_TARGETS, beyond=HIDDEN),
    # tokens: one's own; another's is not there
    "GET /tokens": Recipe("self", list_tokens, beyond=FILTERED, personal=True),
    # another's: an admin of theirs; another organization's names are not there
    "POST /tokens": Recipe("self", mint_token, beyond=HIDDEN, others_need="org.manage"),
    "DELETE /tokens/{prefix}": Recipe("self", revoke_token, beyond=HIDDEN),
    # organizations, projects, members
    "GET /organizations": Recipe("org.read", list_organizations, beyond=FILTERED),
    "POST /organizations": Recipe("org.manage", add_organization, targets=(OTHER,)),  # a new one: nobody's yet
    "GET /organizations/{org}/projects": Recipe("org.read", list_projects),
    "POST /organizations/{org}/projects": Recipe("org.manage", add_project),
    "GET /organizations/{org}/members": Recipe("org.read", list_members),
    "POST /organizations/{org}/members": Recipe("org.manage", add_member),
    "DELETE /organizations/{org}/members/{name}": Recipe("org.manage", remove_member),
    "POST /principals/{name}/disable": Recipe("org.manage", set_disabled(True), beyond=HIDDEN),
    "POST /principals/{name}/enable": Recipe("org.manage", set_disabled(False), beyond=HIDDEN),
    # the audit log
    "GET /audit": Recipe("audit.read", read_audit, beyond=FILTERED),
    "GET /audit/verify": Recipe("audit.read", verify_audit, targets=(OWN,)),  # one chain for all
    # usage: an organization's own, and a center operator's the usage on its centers
    "GET /usage": Recipe("usage.read", read_usage, targets=JOB_TARGETS, beyond=FILTERED),
    # the ledger's balances: what one's organization owes, and earns as a center owner
    "GET /accounts": Recipe("usage.read", read_accounts, beyond=FILTERED),
    # an organization's invoice (what it owes), a center owner's statement (what it earns)
    "GET /invoices/{organization}": Recipe("invoice.read", read_invoice, beyond=HIDDEN),
    "GET /statements/{owner}": Recipe("statement.read", read_statement, beyond=HIDDEN),
}


# The agents' protocol: (build, targets). ``who`` is AGENT (the build passes the center's token)
# or a role's principal (its API token goes instead).
def agent_hello(w: World, who: str, target: str) -> Call:
    name, token = w.new_agent(OWN_ORG)
    use = token if who == AGENT else None
    return Call("POST", "/agent/hello", json=hello_body(), token=use, state=lambda: w.center(name))


def agent_heartbeat(w: World, who: str, target: str) -> Call:
    name, token = w.new_agent(OWN_ORG)
    body = {"protocol": PROTOCOL, "running": []}
    return Call(
        "POST", "/agent/heartbeat", json=body, token=token if who == AGENT else None, state=lambda: w.center(name)
    )


def agent_assignments(w: World, who: str, target: str) -> Call:
    name, token, _ = w.new_attempt(OWN_ORG)
    use = token if who == AGENT else None
    state = lambda: w.container.agents.agents.has_undelivered(name)  # noqa: E731
    return Call("GET", "/agent/assignments", params={"protocol": PROTOCOL}, token=use, state=state)


def _attempt_of(w: World, who: str, target: str) -> tuple[int, str | None]:
    """A job placed on a fresh center, attempt 1; the token to ask with: its own center's agent
    (own), acme's agent about a rival center's attempt (other), or the caller's API token."""
    _, token, job_id = w.new_attempt(OWN_ORG if target == OWN else OTHER_ORG)
    if who != AGENT:
        return job_id, None
    return job_id, token if target == OWN else w.center_tokens[w.centers[OWN_ORG]]


def agent_state(w: World, who: str, target: str) -> Call:
    job_id, token = _attempt_of(w, who, target)
    body = {"protocol": PROTOCOL, "state": "RUNNING"}
    return Call("POST", f"/agent/attempts/{job_id}/1/state", json=body, token=token, state=lambda: w.attempt(job_id))


def agent_logs(w: World, who: str, target: str) -> Call:
    job_id, token = _attempt_of(w, who, target)
    path = f"/agent/attempts/{job_id}/1/logs"
    state = lambda: w.ok("admin", "GET", f"/jobs/{job_id}/logs")  # noqa: E731
    return Call("POST", path, params=log_params(), content=b"matrix\n", token=token, state=state)


AGENT_RECIPES: dict[str, tuple[Build, tuple[str, ...]]] = {
    "POST /agent/hello": (agent_hello, (OWN,)),  # the token names its center: there is no other
    "POST /agent/heartbeat": (agent_heartbeat, (OWN,)),
    "GET /agent/assignments": (agent_assignments, (OWN,)),
    "POST /agent/attempts/{job_id}/{attempt}/state": (agent_state, (OWN, OTHER)),
    "POST /agent/attempts/{job_id}/{attempt}/logs": (agent_logs, (OWN, OTHER)),
}


# -- observing -------------------------------------------------------------------------------------


def mark_of(response: httpx.Response, call: Call) -> str:
    if 200 <= response.status_code < 300:
        if call.shows is None:
            return ALLOWED
        return ALLOWED if call.shows(response.json()) else FILTERED
    return {403: FORBIDDEN, 404: HIDDEN, 401: UNAUTHENTICATED}.get(response.status_code, str(response.status_code))


def observe(world: World, cell: Cell) -> Observation:
    """What the server answers in a cell (once per world: later calls return the same)."""
    if cell.id in world.observed:
        return world.observed[cell.id]
    if cell.agent_protocol:
        build = AGENT_RECIPES[cell.route][0]
        who = cell.caller if cell.caller == AGENT else caller_name(cell.caller)
    else:
        build = RECIPES[cell.route].build
        who = caller_name(cell.caller)
    call = build(world, who, cell.target)
    method, template = cell.route.split(" ", 1)
    assert call.method == method, f"the recipe of {cell.route} asks {call.method} {call.path}"
    if method != "GET" and call.state is None:
        raise AssertionError(f"the recipe of {cell.route} changes something but reads no state to compare")
    before = call.state() if call.state else None
    response = world.request(who, call)
    after = call.state() if call.state else None
    observation = Observation(
        response.status_code,
        mark_of(response, call),
        response.text[:500],
        before,
        after,
        call.state is not None,
        world.secret in response.text,
    )
    world.observed[cell.id] = observation
    return observation


def leaks(observation: Observation, expected_mark: str) -> bool:
    """Whether a cell gave more than the rules allow: an answer that shows or does more than
    expected, a refused request that changed something, or an answer with a secret value."""
    refused = not 200 <= observation.status < 300
    more = _REACH.get(observation.mark, 0) > _REACH.get(expected_mark, 0)
    return more or (refused and observation.changed) or observation.shows_secret


# -- the table in docs/security.md ----------------------------------------------------------------


def _shown(world: World, cell: Cell) -> str:
    observation = observe(world, cell)
    if observation.mark == cell.expected():
        return observation.mark
    return f"{observation.mark} ⚠"


def wrap(text: str, indent: str = "") -> str:
    """Prose in lines of WIDTH, never broken inside `code`."""
    parts = text.split("`")
    kept = "`".join(p.replace(" ", "\x00") if i % 2 else p for i, p in enumerate(parts))
    filled = textwrap.fill(kept, WIDTH, subsequent_indent=indent, break_on_hyphens=False, break_long_words=False)
    return filled.replace("\x00", " ")


def render(world: World, routes: list[str]) -> str:
    """The section's generated text: three tables and the counts."""
    cells = cells_of(routes)
    by_id = {c.id: c for c in cells}
    people = [r for r in routes if not is_agent_route(r)]
    agents = [r for r in routes if is_agent_route(r)]
    roles = [r.value for r in ROLES]
    lines = [
        "Rows: the routes of the OpenAPI document; columns: the caller's role (in acme), asking about",
        "its own organization's thing (own) or rival's (other). ✓: done or shown; filtered: a listing",
        "that answers 200 without the other organization's things; 403: refused; 404: as if it did not",
        "exist; —: no such cell (the route has no target in another organization, or none of its own).",
        "",
        "| route | " + " | ".join(f"{role}<br>own | {role}<br>other" for role in roles) + " |",
        "|---|" + "|".join(":-:" for _ in range(2 * len(roles))) + "|",
    ]
    for route in people:
        marks = []
        for role in roles:
            for target in (OWN, OTHER):
                cell = by_id.get(Cell(route, role, target).id)
                marks.append(_shown(world, cell) if cell else NO_CELL)
        lines.append(f"| `{route}` | " + " | ".join(marks) + " |")

    placed = [r for r in people if PLACED in RECIPES[r].targets]
    lines += [
        "",
        "Another organization's job placed on a center of the caller's organization:",
        "",
        "| route | " + " | ".join(roles) + " |",
        "|---|" + "|".join(":-:" for _ in roles) + "|",
    ]
    for route in placed:
        marks = [_shown(world, by_id[Cell(route, role, PLACED).id]) for role in roles]
        lines.append(f"| `{route}` | " + " | ".join(marks) + " |")

    lines += [
        "",
        "The agents' protocol, with a center's agent token (own: an attempt on that center; other: one",
        "on another center) and with an API token of any role:",
        "",
        "| route | agent<br>own | agent<br>other | any role's API token |",
        "|---|:-:|:-:|:-:|",
    ]
    for route in agents:
        agent = [by_id.get(Cell(route, AGENT, t).id) for t in (OWN, OTHER)]
        marks = [_shown(world, c) if c else NO_CELL for c in agent]
        people_marks = sorted({_shown(world, c) for c in cells if c.route == route and c.caller != AGENT})
        lines.append(f"| `{route}` | " + " | ".join(marks) + f" | {' / '.join(people_marks)} |")

    notes: dict[str, list[str]] = {}
    for route in people:
        if RECIPES[route].note:
            notes.setdefault(RECIPES[route].note, []).append(f"`{route}`")
    for note, noted in notes.items():
        lines += ["", wrap(f"{', '.join(noted)}: {note}.")]
    differing = [c for c in cells if observe(world, c).mark != c.expected()]
    leaking = [c for c in cells if leaks(observe(world, c), c.expected())]
    changing = sum(1 for c in cells if observe(world, c).changes and not 200 <= observe(world, c).status < 300)
    counted = {
        "main": sum(1 for c in cells if not c.agent_protocol and c.target != PLACED),
        "placed": sum(1 for c in cells if c.target == PLACED),
        "agent": sum(1 for c in cells if c.agent_protocol),
    }
    counts = (
        f"{len(cells)} cells ({counted['main']} in the first table, {counted['placed']} in the second, "
        f"{counted['agent']} of the agents' protocol); "
        f"**{len(leaking)} cells where a caller reads or changes what is not theirs**"
        + (": " + ", ".join(f"`{c.id}`" for c in leaking) if leaking else "")
        + f"; {changing} refused requests that would have changed something were checked to change nothing"
        + (", and no answer shows a secret environment value." if SECRET_ENV else ".")
    )
    lines += ["", wrap(counts)]
    if differing:
        lines += ["", "⚠ answers otherwise than the rules:", ""]
        for cell in differing:
            said = f"- `{cell.id}`: {observe(world, cell).mark}, the rules say {cell.expected()}"
            said += f" ({KNOWN[cell.id]})" if cell.id in KNOWN else ""
            lines.append(wrap(said, indent="  "))
    return "\n".join(lines) + "\n"


def section_of(text: str) -> str | None:
    begin, end = MARKERS
    if begin not in text or end not in text:
        return None
    return text.split(begin, 1)[1].split(end, 1)[0].strip("\n") + "\n"


def replace_section(text: str, generated: str) -> str:
    begin, end = MARKERS
    if begin not in text or end not in text:
        raise SystemExit(f"the markers of the isolation matrix are not in the file: add\n{begin}\n{end}")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{generated}{end}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.isolation_matrix", description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", metavar="FILE", help="write the table between the markers of FILE")
    parser.add_argument("--check", metavar="FILE", help="exit 1 when FILE's table is not what the matrix gives")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as home, world_in(Path(home)) as world:
        routes = routes_of(world.client.app)
        if missing := missing_recipes(routes):
            print(f"routes without a recipe in tests/isolation_matrix.py: {', '.join(missing)}", file=sys.stderr)
            return 1
        generated = render(world, routes)
    took = time.perf_counter() - started
    if args.write:
        path = Path(args.write)
        path.write_text(replace_section(path.read_text(), generated))
        print(f"wrote the isolation matrix into {path} ({took:.1f} s)")
    elif args.check:
        if section_of(Path(args.check).read_text()) != generated:
            print(f"{args.check}: the isolation matrix is out of date; run {REGENERATE}", file=sys.stderr)
            return 1
        print(f"{args.check}: the isolation matrix is current ({took:.1f} s)")
    else:
        print(generated, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
