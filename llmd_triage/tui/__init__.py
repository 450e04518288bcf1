"""The full-screen on-call app: the only package that imports `textual`. It renders engine results and asks
the engine for walks; it knows no probe and no Kubernetes client."""
