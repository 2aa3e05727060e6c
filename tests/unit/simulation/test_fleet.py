from __future__ import annotations

from pathlib import Path

import pytest

from suanli.domain.centers import CenterSpec
from suanli.simulation.fleet import FleetError, dump_fleet, fleet_from_dict, load_fleet

FLEET = """\
name: two-sites
accelerators:
  - {name: X1, vendor: Acme, memory_gb: 64, throughput: 1.5}
centers:
  - name: qd
    region: qingdao
    pools:
      - {name: a100, accelerator: a100, nodes: 16, accelerators_per_node: 8, cpus_per_node: 128,
         memory_gb_per_node: 1024, price_per_accelerator_hour: 12.5, carbon_intensity: 420}
      - {name: x1, accelerator: X1, nodes: 4, accelerators_per_node: 8, cpus_per_node: 64,
         memory_gb_per_node: 512, price_per_accelerator_hour: 8}
  - name: gy
    region: guiyang
    pools:
      - {name: ascend, accelerator: 910B, nodes: 64, accelerators_per_node: 8, cpus_per_node: 192,
         memory_gb_per_node: 1536, price_per_accelerator_hour: 9, carbon_intensity: 120}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleet.yaml"
    path.write_text(text)
    return path


def test_a_fleet_file_loads_with_canonical_accelerators(tmp_path: Path) -> None:
    fleet = load_fleet(write(tmp_path, FLEET))
    assert fleet.accelerator_counts() == {"A100-80G": 128, "X1": 32, "Ascend910B": 512}
    assert fleet.catalog().resolve("X1").throughput == 1.5
    specs = fleet.center_specs()
    assert all(isinstance(spec, CenterSpec) for spec in specs)
    assert specs[1].pools[0].carbon_intensity == 120
    assert load_fleet(write(tmp_path, dump_fleet(fleet))) == fleet


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (("nodes: 16", "nodes: -1"), "centers[0].pools[0].nodes"),
        (("accelerator: a100", "accelerator: Z9"), "unknown model 'Z9'"),
        (("name: gy", "name: qd"), "center names must be unique"),
        (("name: x1", "name: a100"), "pool names must be unique"),
        (("carbon_intensity: 420", "carbon_intensity: lots"), "centers[0].pools[0].carbon_intensity"),
        (("region: qingdao", "region: qingdao\n    colour: red"), "centers[0].colour"),
        (("throughput: 1.5", "throughput: 0"), "accelerators[0].throughput"),
    ],
)
def test_a_bad_field_is_named_by_its_path(tmp_path: Path, edit: tuple[str, str], words: str) -> None:
    path = write(tmp_path, FLEET.replace(*edit, 1))
    with pytest.raises(FleetError) as caught:
        load_fleet(path)
    assert words in str(caught.value) and str(path) in str(caught.value)
    assert "at least 1 item" not in str(caught.value), "only the bad field, not its list, is reported"


def test_bad_yaml_names_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(FleetError, match=r"line 2, column \d+: not valid YAML"):
        load_fleet(write(tmp_path, "name: x\n\tcenters: []\n"))
    with pytest.raises(FleetError, match="expected a mapping"):
        load_fleet(write(tmp_path, "- 1\n- 2\n"))
    with pytest.raises(FleetError, match="cannot read"):
        load_fleet(tmp_path / "absent.yaml")


def test_a_fleet_needs_centers_and_pools() -> None:
    with pytest.raises(FleetError, match="centers"):
        fleet_from_dict({"name": "empty", "centers": []})
    with pytest.raises(FleetError, match=r"centers\[0\]\.pools"):
        fleet_from_dict({"centers": [{"name": "a", "pools": []}]})
