"""The node agent: the one process allowed to change GPU power limits, through leases."""
