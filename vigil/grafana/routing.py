"""Where Grafana sends Vigil's alerts: contact points and the notification policy tree.

Contact points read their destinations from the environment of the Grafana process
(Grafana interpolates ``$VAR`` in provisioning files), so no URL or key is in the repo.
By default every route goes to a webhook; :func:`example_contact_points` shows email,
Slack and PagerDuty receivers driven the same way.

Alerts are grouped by ``patient_id`` and ``alertname``: one notification per patient and
rule, repeated on a schedule that keeps reminding without flooding.

>>> tree = notification_policies()[0]
>>> [(r["object_matchers"][0][2], r["receiver"], r["repeat_interval"]) for r in tree["routes"]]
[('page', 'vigil-oncall-page', '30m'), ('urgent', 'vigil-urgent-review', '2h'), \
('data-quality', 'vigil-urgent-review', '6h'), ('platform', 'vigil-platform', '4h')]
"""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

PAGE, URGENT, PLATFORM = "vigil-oncall-page", "vigil-urgent-review", "vigil-platform"
WEBHOOK_ENV = {
    PAGE: "ALERT_PAGE_WEBHOOK_URL",
    URGENT: "ALERT_URGENT_WEBHOOK_URL",
    PLATFORM: "ALERT_PLATFORM_WEBHOOK_URL",
}
"""Contact point -> the environment variable (of the Grafana process) holding its webhook URL."""
GROUP_BY = ["alertname", "patient_id"]


def _webhook(name: str) -> Json:
    return {
        "uid": name,
        "type": "webhook",
        "settings": {"url": f"${WEBHOOK_ENV[name]}", "httpMethod": "POST", "maxAlerts": 50},
        "disableResolveMessage": False,
    }


def contact_points(org_id: int = 1) -> list[Json]:
    """The webhook contact points the policies route to."""
    return [
        {"orgId": org_id, "name": name, "receivers": [_webhook(name)]} for name in (PAGE, URGENT, PLATFORM)
    ]


def example_contact_points(org_id: int = 1) -> list[Json]:
    """Email, Slack and PagerDuty receivers (not provisioned by default: copy what you need)."""
    return [
        {
            "orgId": org_id,
            "name": "vigil-email",
            "receivers": [
                {
                    "uid": "vigil-email",
                    "type": "email",
                    "settings": {"addresses": "$ALERT_EMAIL_ADDRESSES", "singleEmail": True},
                }
            ],
        },
        {
            "orgId": org_id,
            "name": "vigil-slack",
            "receivers": [
                {
                    "uid": "vigil-slack",
                    "type": "slack",
                    "settings": {"url": "$SLACK_WEBHOOK_URL", "recipient": "$SLACK_CHANNEL"},
                }
            ],
        },
        {
            "orgId": org_id,
            "name": "vigil-pagerduty",
            "receivers": [
                {
                    "uid": "vigil-pagerduty",
                    "type": "pagerduty",
                    "settings": {
                        "integrationKey": "$PAGERDUTY_INTEGRATION_KEY",
                        "severity": "critical",
                        "class": "clinical",
                        "component": "vigil",
                    },
                }
            ],
        },
    ]


def _route(severity: str, receiver: str, wait: str, interval: str, repeat: str) -> Json:
    return {
        "receiver": receiver,
        "object_matchers": [["severity", "=", severity]],
        "group_by": GROUP_BY,
        "group_wait": wait,
        "group_interval": interval,
        "repeat_interval": repeat,
        "continue": False,
    }


def notification_policies(org_id: int = 1) -> list[Json]:
    """The policy tree: route by ``severity``; unmatched (e.g. datasource errors) go to the platform team."""
    return [
        {
            "orgId": org_id,
            "receiver": PLATFORM,
            "group_by": GROUP_BY,
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                _route("page", PAGE, "0s", "1m", "30m"),
                _route("urgent", URGENT, "30s", "5m", "2h"),
                _route("data-quality", URGENT, "1m", "10m", "6h"),
                _route("platform", PLATFORM, "1m", "5m", "4h"),
            ],
        }
    ]
