"""PCI addresses as the kernel, nvidia-smi and lspci print them, reduced to one comparable form.

The kernel logs "0000:a1:00", nvidia-smi "00000000:A1:00.0", lspci "a1:00.0"; mapping an Xid line
to a GPU index depends on all three meeting. The PCI domain is kept when it is not 0, since
multi-domain systems (GB200) have GPUs that differ only by domain.
"""

from __future__ import annotations

import re

_PCI = re.compile(r"^(?:(?P<dom>[0-9a-f]{1,8}):)?(?P<bus>[0-9a-f]{1,2}):(?P<dev>[0-9a-f]{1,2})(?:\.(?P<fn>[0-7]))?$")


def normalize_pci(text: str | None) -> str | None:
    """Any printed PCI address -> "dddd:bb:dd.f" lowercase (function 0 when not printed), else None."""
    if not text:
        return None
    s = text.strip().lower()
    if s.startswith("pci:"):
        s = s[4:]
    m = _PCI.match(s)
    if not m:
        return None
    dom = int(m["dom"] or "0", 16)
    return f"{dom:04x}:{int(m['bus'], 16):02x}:{int(m['dev'], 16):02x}.{m['fn'] or '0'}"


def short_pci(full: str | None) -> str | None:
    """ "bb:dd.f" for domain 0, else the full "dddd:bb:dd.f"."""
    if full is None:
        return None
    dom, rest = full.split(":", 1)
    return rest if dom == "0000" else full


def nvidia_smi_bus_id(full: str | None) -> str | None:
    """The "00000000:A1:00.0" spelling nvidia-smi prints, from a normalized address."""
    if full is None:
        return None
    dom, bus, rest = full.split(":")
    return f"{int(dom, 16):08X}:{bus.upper()}:{rest.upper()}"
