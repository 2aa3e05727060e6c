"""The isolation matrix through the real API (SQLite, in process): every route of the OpenAPI
document × every role × own/other organization answers what the rules say, a refused request
changes nothing, and the table in docs/security.md is the one the matrix gives.

The rules, the recipes and the table are in tests/isolation_matrix.py; each cell is one test,
e.g. ``test_cell[DELETE /centers/{name}-member-other]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from suanli.domain.identity import Role
from tests.isolation_matrix import (
    AGENT_RECIPES,
    KNOWN,
    MARKERS,
    OTHER_ORG,
    OWN_ORG,
    RECIPES,
    REGENERATE,
    Call,
    Cell,
    World,
    app_routes,
    caller_name,
    cells_of,
    leaks,
    missing_recipes,
    observe,
    render,
    routes_of,
    section_of,
    world_in,
)

DOCS = Path(__file__).resolve().parents[3] / "docs" / "security.md"


def _params() -> list[object]:
    marks = {cell_id: pytest.mark.xfail(strict=True, reason=reason) for cell_id, reason in KNOWN.items()}
    return [pytest.param(c, id=c.id, marks=marks.get(c.id, ())) for c in cells_of(app_routes())]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world_in(tmp_path_factory.mktemp("matrix")) as made:
        yield made


@pytest.mark.parametrize("route", app_routes())
def test_every_route_has_a_recipe(route: str) -> None:
    assert not missing_recipes([route]), (
        f"{route} has no recipe in tests/isolation_matrix.py: add one to RECIPES (or AGENT_RECIPES) that "
        "says what it does (its action), how to fill its path and body for a target of the caller's own "
        "organization and of another one, and, if it changes something, how to read that state"
    )


def test_every_recipe_has_its_route() -> None:
    stale = sorted((set(RECIPES) | set(AGENT_RECIPES)) - set(app_routes()))
    assert not stale, f"recipes for routes the API no longer has (remove them from tests/isolation_matrix.py): {stale}"


def test_the_known_differences_are_cells() -> None:
    ids = {c.id for c in cells_of(app_routes())}
    assert set(KNOWN) <= ids, f"KNOWN names cells that do not exist: {sorted(set(KNOWN) - ids)}"


@pytest.mark.parametrize("cell", _params())
def test_cell(world: World, cell: Cell) -> None:
    observation = observe(world, cell)
    want = cell.expected()
    assert not observation.shows_secret, f"{cell.id}: the answer shows a secret environment value: {observation.detail}"
    if observation.changes and not 200 <= observation.status < 300:
        assert not observation.changed, (
            f"{cell.id}: refused with {observation.status}, yet its target changed: "
            f"before {observation.before!r}, after {observation.after!r}"
        )
    assert observation.mark == want, (
        f"{cell.id}: the rules say {want}, the server answered {observation.status} ({observation.mark}): "
        f"{observation.detail}"
    )
    if observation.changes and 200 <= observation.status < 300:
        assert observation.changed, (
            f"{cell.id}: done ({observation.status}), but the recipe's state did not see it change "
            f"({observation.before!r}): the recipe reads the wrong state"
        )


def test_the_docs_table_is_current(world: World) -> None:
    routes = routes_of(world.client.app)
    if missing := missing_recipes(routes):
        pytest.fail(f"the table cannot be made while routes have no recipe: {missing}")
    found = section_of(DOCS.read_text())
    assert found is not None, f"docs/security.md has no isolation matrix section: add the markers {MARKERS}"
    generated = render(world, routes)
    assert found == generated, f"the isolation matrix in docs/security.md is out of date: run {REGENERATE}"


def test_no_cell_reads_or_changes_what_is_not_theirs(world: World) -> None:
    """The target is zero; while a known difference (KNOWN) leaks, this test is an xfail naming it."""
    cells = cells_of(routes_of(world.client.app))
    leaking = [c.id for c in cells if leaks(observe(world, c), c.expected())]
    unknown = [cell_id for cell_id in leaking if cell_id not in KNOWN]
    assert unknown == [], f"cells where a caller reads or changes what is not theirs: {unknown}"
    if leaking:
        pytest.xfail(f"known cells where a caller reads what is not theirs: {leaking}")


def test_an_org_admin_cannot_take_over_another_organizations_principal(world: World) -> None:
    """Beyond the matrix's cells: a chain of three requests that once took acme's admin into rival
    as rival's own admin. Enrolling rival's admin in acme is allowed (a person may belong to
    several organizations), minting a token in its name is not: an admin mints tokens for its own
    organization's principals only."""
    stranger = world.add_principal(world.fresh(f"{OTHER_ORG}-admin"), OTHER_ORG, Role.ORG_ADMIN, token=False)
    admin = caller_name(Role.ORG_ADMIN)
    enrol = {"name": stranger, "role": Role.MEMBER.value}
    enrolled = world.request(admin, Call("POST", f"/organizations/{OWN_ORG}/members", json=enrol))
    for_them = {"name": "in-their-name", "principal": stranger, "organization": OWN_ORG}
    minted = world.request(admin, Call("POST", "/tokens", json=for_them))
    assert minted.status_code != 201, (
        f"acme's admin enrolled rival's {stranger} ({enrolled.status_code}) and minted a token in its name: "
        f"{minted.text}"
    )


def test_a_token_acting_for_one_organization_mints_none_for_another(world: World) -> None:
    """The last step of that chain: a principal enrolled in acme, with a token acting for acme
    (minted by the platform admin), cannot mint itself one acting for rival: a token that leaks
    from one organization reaches no other."""
    stranger = world.add_principal(world.fresh(f"{OTHER_ORG}-admin"), OTHER_ORG, Role.ORG_ADMIN, token=False)
    world.ok("admin", "POST", f"/organizations/{OWN_ORG}/members", json={"name": stranger, "role": Role.MEMBER.value})
    in_acme = world.ok(
        "admin", "POST", "/tokens", json={"name": "acme", "principal": stranger, "organization": OWN_ORG}
    )
    crossed = world.request(
        stranger, Call("POST", "/tokens", json={"name": "x", "organization": OTHER_ORG}, token=in_acme["token"])
    )
    assert crossed.status_code != 201, f"a token acting for acme minted one acting for rival: {crossed.text}"
