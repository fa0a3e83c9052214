"""Everything at the edges: Ray clusters, NVML and simulated GPUs, the node agent, SQL
stores. One backend per file inside a role folder; imports ``scheduler`` for its protocols
and model only."""
