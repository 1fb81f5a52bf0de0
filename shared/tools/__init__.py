"""What runs on top of the harness: parity traces, the bench, the hazard registry, tables, reports, plots."""
