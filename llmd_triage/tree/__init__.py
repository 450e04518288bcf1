"""The declarative tree model: loading, conditions, templating, graph and lint. Knows no cluster."""
