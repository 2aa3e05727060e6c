"""The simulator drives the server's own scheduler: one small workload, run by a real server with
real agents and by the simulator on the same fleet, is placed in the same order, on the same
centers and nodes."""

from __future__ import annotations

from suanli.domain.centers import Pool
from suanli.simulation.engine import Simulation
from suanli.simulation.fleet import Fleet, FleetCenter
from suanli.simulation.workload import TraceJob, Workload
from tests.integration.agent_e2e.conftest import MODEL, Cluster

UNIT_S = 1.0  # every end is at least this far from the next event, so real overheads keep the order
# (accelerators, run time in units): four fill both centers' two slots at once; the rest wait, one
# of them for a whole node of two, so the order depends on which slots free up when.
JOBS = [(1, 2), (1, 5), (1, 3), (1, 6), (2, 2), (1, 1), (1, 2)]


def test_the_simulator_places_a_workload_as_the_server_does(cluster: Cluster) -> None:
    for name in ("sim-a", "sim-b"):
        cluster.start_agent(name, cluster.add_center(name))
    specs = [
        {
            "name": f"job-{i}",
            "command": ["sleep", str(units * UNIT_S)],
            "resources": {"accelerators": f"{MODEL}:{gpus}", "cpus": 1, "memory_gb": 0.5},
        }
        for i, (gpus, units) in enumerate(JOBS)
    ]
    jobs = cluster.client.submit_many(specs)  # one batch: all arrive before the first cycle
    for job in jobs:
        cluster.wait_status(job.id, "SUCCEEDED", timeout=30)
    served = []
    for index, job in enumerate(jobs):
        [attempt] = cluster.client.job_attempts(job.id)
        served.append((attempt.created_at, index, attempt.center, tuple(attempt.node_indices)))
    served_order = [(index, center, nodes) for _, index, center, nodes in sorted(served)]

    # The same fleet, as the agents reported it, and the same jobs, as a trace.
    centers = [c for c in cluster.client.list_centers() if c.name.startswith("sim-")]
    fleet = Fleet(
        name="e2e",
        centers=tuple(
            FleetCenter(
                name=c.name,
                kind=c.kind,
                region=c.region,
                pools=tuple(Pool.model_validate(p.model_dump(include=set(Pool.model_fields))) for p in c.pools),
            )
            for c in centers
        ),
    )
    trace = tuple(
        TraceJob(id=f"job-{i}", submit_s=0.0, duration_s=units * UNIT_S, gpus=gpus, cpus=1, memory_gb=0.5)
        for i, (gpus, units) in enumerate(JOBS)
    )
    result = Simulation(Workload("e2e", trace, reference_accelerator=None), fleet, "default").run()
    simulated = sorted(result.records, key=lambda r: (r.start_s, int(r.job.id.removeprefix("job-"))))
    simulated_order = [(int(r.job.id.removeprefix("job-")), r.center, r.nodes) for r in simulated]

    assert simulated_order == served_order
    waited = [index for index, record in enumerate(result.records) if record.start_s]
    assert len(waited) >= 3  # the workload really queued: the order was decided over several cycles
