"""The worker's topics decode Kafka records exactly as Faust's ``raw`` serializer would."""

from __future__ import annotations

import faust
import pytest
from faust.types import Message

from streams.codecs import RawSchema


@pytest.mark.parametrize("key", [b"p-1", None, b""])
@pytest.mark.parametrize("value", [b'{"a": 1}', None, b"\xff\x00 not json"])
async def test_raw_schema_decodes_like_the_raw_serializer(key: bytes | None, value: bytes | None) -> None:
    app = faust.App("codecs-test", store="memory://", autodiscover=False, web_enabled=False)
    message = Message("t", 0, 7, 0.0, 0, headers=[("h", b"1")], key=key, value=value, checksum=None)
    default = faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    expected = await default.decode(app, message)
    event = await RawSchema().decode(app, message)
    assert (event.key, event.value, event.headers) == (expected.key, expected.value, expected.headers)
    assert event.message is message
