"""Probe kinds: one module each, discovered by the registry. Probes know nothing of trees."""
