"""Read-only access to a cluster: the protocol, the snapshot replay, and (later) the live client."""
