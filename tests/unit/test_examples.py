"""Every example in examples/ is valid, and the tour's jobs land where the docs say they do."""

from pathlib import Path

import pytest
import yaml

from suanli.client import load_job_specs
from suanli.domain.accelerators import AcceleratorCatalog
from suanli.domain.centers import Center, CenterSpec
from suanli.scheduler.cycle import Scheduler
from suanli.scheduler.request import SchedulingRequest
from suanli.scheduler.snapshot import Snapshot

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
JOB_FILES = sorted(EXAMPLES.glob("*.yaml"))
CENTER_FILES = sorted((EXAMPLES / "centers").glob("*.yaml"))


def test_there_are_examples_of_each_kind() -> None:
    names = {p.stem for p in JOB_FILES}
    assert {"finetune-single-gpu", "gang-training-4-nodes", "alternatives-a100-or-910b", "cpu-batch"} <= names
    assert len(CENTER_FILES) >= 2


@pytest.mark.parametrize("path", JOB_FILES, ids=lambda p: p.name)
def test_job_example_is_valid(path: Path) -> None:
    specs = load_job_specs(path)
    assert specs
    catalog = AcceleratorCatalog()
    for spec in specs:
        spec.canonical(catalog)


@pytest.mark.parametrize("path", CENTER_FILES, ids=lambda p: p.name)
def test_center_example_is_valid(path: Path) -> None:
    CenterSpec.model_validate(yaml.safe_load(path.read_text()))


def test_tour_jobs_land_on_the_expected_centers() -> None:
    catalog = AcceleratorCatalog()
    centers = [Center(spec=CenterSpec.model_validate(yaml.safe_load(p.read_text()))) for p in CENTER_FILES]
    expected = {
        "finetune-single-gpu": "qd-ai-1/a100",  # cheapest of the three 80 GB alternatives offered
        "gang-training-4-nodes": "qd-ai-1/a100",  # pinned to qingdao, 576 CNY/h is under its 800 limit
        "alternatives-a100-or-910b": "sz-ascend/910b",  # 8 x 910B at 12 beats 8 x A100 at 18
        "cpu-batch": "tj-hpc/cpu",
    }
    for i, (stem, where) in enumerate(expected.items(), start=1):
        (spec,) = load_job_specs(EXAMPLES / f"{stem}.yaml")
        request = SchedulingRequest.from_spec(i, spec.canonical(catalog))
        (decision,) = Scheduler().run_cycle(Snapshot.build(centers, []), [request], 1.8e9).decisions
        assert decision.choice is not None, decision.explain()
        assert f"{decision.choice.center}/{decision.choice.pool}" == where, stem
