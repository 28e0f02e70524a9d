"""Grafana display units for Vigil's canonical UCUM units.

>>> grafana_unit("%"), grafana_unit("Cel"), grafana_unit("mm[Hg]"), grafana_unit("{steps}")
('percent', 'celsius', 'suffix: mmHg', 'suffix: steps')
"""

from __future__ import annotations

_KNOWN = {"%": "percent", "Cel": "celsius", "h": "h", "ms": "ms", "min": "m", "kg": "masskg"}
_SUFFIX = {"/min": "/min", "mm[Hg]": "mmHg", "mmol/L": "mmol/L"}


def grafana_unit(ucum: str) -> str:
    """Grafana's unit id for ``ucum``: a built-in one where Grafana has it, else a text suffix."""
    if ucum in _KNOWN:
        return _KNOWN[ucum]
    return "suffix: " + _SUFFIX.get(ucum, ucum.strip("{}"))
