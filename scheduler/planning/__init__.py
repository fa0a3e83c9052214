"""The planner: pure functions from (jobs, intensity, capacity, now) to a plan and decisions.

``problem`` holds the slot-grid types every policy shares; each policy lives in its own
module and is picked by name from ``policies``.
"""
