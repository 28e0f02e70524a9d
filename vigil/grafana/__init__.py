"""Grafana as code: dashboards, alert rules, contact points and notification policies for Vigil.

Everything Grafana shows is generated here from :mod:`streams.schema` (the InfluxDB
names) and :class:`vigil.settings.Settings`, then either written as provisioning files
under ``deploy/grafana/`` (``python deploy/grafana/generate.py``) or pushed to a running
Grafana through its HTTP API (``vigil grafana provision``). All queries are InfluxQL, so
the same boards work on InfluxDB 1.8, on 2.x through a DBRP mapping, and on 3.x.
"""
