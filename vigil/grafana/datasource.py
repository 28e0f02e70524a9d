"""The InfluxDB datasource Grafana queries with InfluxQL (InfluxDB 1.8, 2.x via DBRP, 3.x).

On InfluxDB 2.x/3.x InfluxQL authenticates with ``Authorization: Token ...``; the
database is the bucket's DBRP-mapped name.

>>> ds = datasource("http://influxdb:8086", "vigil", "$INFLUX_TOKEN")
>>> ds["uid"], ds["jsonData"]["dbName"], ds["secureJsonData"]["httpHeaderValue1"]
('vigil-influxdb', 'vigil', 'Token $INFLUX_TOKEN')
"""

from __future__ import annotations

from typing import Any

from vigil.grafana.panels import DATASOURCE_UID

NAME = "Vigil InfluxDB"


def datasource(url: str, database: str, token: str) -> dict[str, Any]:
    """The datasource definition (the same shape for a provisioning file and ``POST /api/datasources``)."""
    return {
        "name": NAME,
        "uid": DATASOURCE_UID,
        "type": "influxdb",
        "access": "proxy",
        "url": url,
        "isDefault": True,
        "jsonData": {
            "dbName": database,
            "httpMode": "POST",
            "httpHeaderName1": "Authorization",
            "timeInterval": "10s",
        },
        "secureJsonData": {"httpHeaderValue1": f"Token {token}"},
        "editable": False,
    }
