"""The shared integration fixtures and helpers keep their contract."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest.topics import TOPIC_FIELDS, topic_names
from tests.conftest import require_service
from tests.integration.helpers import create_topics, delete_topics, kafka_admin, wait_for
from vigil.settings import Settings

KAFKA_TOPIC = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")


def test_unique_name_is_a_valid_topic_prefix_and_database_name(unique_name: str) -> None:
    assert re.fullmatch(r"t-test-unique-name-is-a-valid-topic-prefix-[0-9a-f]{8}", unique_name), unique_name


def test_service_settings_are_private_to_the_test(
    service_settings: Settings, unique_name: str, tmp_path: Path
) -> None:
    names = topic_names(service_settings)
    assert len(set(names)) == len(TOPIC_FIELDS)  # one private name per topic
    assert all(name.startswith(f"{unique_name}.") and KAFKA_TOPIC.match(name) for name in names)
    assert service_settings.topics.partitions == 3
    assert service_settings.influx.bucket == unique_name
    assert service_settings.worker.app_id == unique_name
    assert (
        unique_name in str(service_settings.worker.data_dir)
        or service_settings.worker.data_dir.parent.exists()
    )
    with kafka_admin(service_settings) as admin:
        assert not set(names) & set(admin.list_topics()), "service_settings must not create the topics"


def test_create_topics_then_delete_by_prefix(service_settings: Settings, unique_name: str) -> None:
    created = create_topics(service_settings)
    assert created == topic_names(service_settings)
    with kafka_admin(service_settings) as admin:
        described = admin.describe_topics(created)
        assert {len(t["partitions"]) for t in described} == {3}
        assert sorted(delete_topics(service_settings, unique_name)) == sorted(created)
        wait_for(lambda: not set(created) & set(admin.list_topics()), timeout=30, what="topics deleted")


def test_require_service_skips_locally_and_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    require_service("kafka", True, "")  # reachable: nothing happens
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="kafka not reachable: refused"):
        require_service("kafka", False, "refused")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true and kafka not reachable: refused"):
        require_service("kafka", False, "refused")
