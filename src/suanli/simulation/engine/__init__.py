"""The discrete-event simulation: a virtual clock drives the server's own scheduler cycle.

Simulated centers stand in for agents: a placed job "runs" for its trace run time on the
accelerator it was given, then gives its nodes back. Nothing here decides where a job goes or
in which order: that is ``Scheduler.run_cycle`` with the profile's plugins, exactly as the server
calls it, on a ``Snapshot`` built from the fleet's centers as the server builds one from its
registered centers.

Time: events are job arrivals and job ends. After the events of one moment are applied, one
cycle runs on every job still waiting, as the server's loop runs a cycle after each wake-up.
With ``cycle_interval_s`` the moments are rounded up to a grid (the server's timer), which
coalesces events and costs fewer cycles.

One module per job: ``simulation`` (the setup: requests and run times), ``loop`` (the virtual
clock and its events), ``state`` (where each job stands, the moves of one job), ``cycles``
(the scheduler's cycles), ``rounds`` (time-sharing rounds), ``preemption`` (replanning for
preemptive queue orders), ``accounting`` (records and metrics) and ``results`` (what a run returns).
"""

from suanli.simulation.engine.accounting import Progress
from suanli.simulation.engine.results import JobRecord, SimulationResult
from suanli.simulation.engine.simulation import RequestPolicy, Simulation

__all__ = ["JobRecord", "Progress", "RequestPolicy", "Simulation", "SimulationResult"]
