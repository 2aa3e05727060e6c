"""The trace-driven simulator (digital twin): workloads from public traces, fleets, and the replay."""
