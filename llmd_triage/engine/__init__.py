"""The walk: runs probe nodes, evaluates decisions, records every step. Knows no UI and no client."""
