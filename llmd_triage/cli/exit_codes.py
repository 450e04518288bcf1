"""Exit codes are a contract with scripts and CI; never renumber."""

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    FINDINGS = 1
    USAGE = 2
    CLUSTER = 3
    TIMEOUT = 4
    INTERRUPTED = 130
