"""Smoke test: the local Mosquitto delivers QoS 1 messages to a subscriber (aiomqtt, as the bridge uses)."""

from __future__ import annotations

import asyncio

import aiomqtt

MESSAGES = 50


async def test_qos1_publish_subscribe_round_trip(mqtt_address: tuple[str, int], unique_name: str) -> None:
    host, port = mqtt_address
    topic = f"vigil/test/{unique_name}/readings"
    async with (
        aiomqtt.Client(host, port, identifier=f"{unique_name}-sub") as subscriber,
        aiomqtt.Client(host, port, identifier=f"{unique_name}-pub") as publisher,
    ):
        await subscriber.subscribe(topic, qos=1)
        for n in range(MESSAGES):
            await publisher.publish(topic, f"reading-{n}".encode(), qos=1)
        received = []
        async with asyncio.timeout(15):
            async for message in subscriber.messages:
                received.append((str(message.topic), message.qos, message.payload))
                if len(received) == MESSAGES:
                    break
    assert received == [(topic, 1, f"reading-{n}".encode()) for n in range(MESSAGES)]
