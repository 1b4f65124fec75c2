"""Where every query comes from: sqlcommenter tags on each statement, and per-request query counts."""
