"""The carbon signal: provider clients, validation, caching, failover, the fallback
forecaster and the demo grid. Imports ``scheduler`` for its protocols and model only."""
