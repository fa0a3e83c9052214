"""Human-facing reports built from ledger entries (HTML page, SVG charts)."""
