from dataclasses import fields, replace

import pytest

from suanli.scheduler.request import Shape, simple_shape

BASE = simple_shape("A100-80G", 8, 2, time_limit=3600)
CHANGES = {
    "alternatives": (("H100", 8),),
    "nodes": 3,
    "cpus": 4,
    "memory_gb": 2.0,
    "regions": frozenset({"qingdao"}),
    "center_kinds": frozenset({"ai"}),
    "centers": frozenset({"qd"}),
    "max_price_per_hour": 10.0,
    "deadline": 1.0,
    "time_limit": 60.0,
    "gpu_milli": 500,
}


def test_every_field_takes_part_in_equality() -> None:
    assert set(CHANGES) == {f.name for f in fields(Shape) if f.init}, (
        "a new Shape field needs a line here and in __eq__"
    )


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_shapes_differing_in_one_field_are_different(name: str) -> None:
    other = replace(BASE, **{name: CHANGES[name]})
    assert other != BASE
    assert replace(BASE) == BASE and hash(replace(BASE)) == hash(BASE)


def test_plan_key_ignores_time_limit_unless_a_deadline_needs_it() -> None:
    short, long_ = replace(BASE, time_limit=60.0), replace(BASE, time_limit=7200.0)
    assert short != long_ and short.plan_key == long_.plan_key
    assert replace(short, gpu_milli=500).plan_key != short.plan_key
    with_deadline = replace(BASE, deadline=1e9)
    assert with_deadline.plan_key is with_deadline
