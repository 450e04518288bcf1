"""Renderers of engine results. They read Walk records only; secrets are redacted first."""
