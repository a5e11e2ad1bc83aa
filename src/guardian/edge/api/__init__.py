"""The edge's local HTTP API: routes, dependencies."""
