"""The broker and the client library, on their own: the ground the bridge stands on."""

import pytest
from aiokafka import AIOKafkaProducer

from tests.kafka_tools import create_topics, java_partition, read_all, unique_topic


@pytest.mark.kafka
async def test_produced_records_are_read_back(kafka_bootstrap: str) -> None:
    topic = unique_topic("roundtrip")
    await create_topics(kafka_bootstrap, topic)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        compression_type="lz4",
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, b'{"n":1}', key=b"k1", headers=[("h", b"v")])
    finally:
        await producer.stop()

    [record] = await read_all(kafka_bootstrap, topic)

    assert (record.key, record.value, list(record.headers)) == (b"k1", b'{"n":1}', [("h", b"v")])


@pytest.mark.kafka
async def test_keys_land_on_the_java_clients_partitions(kafka_bootstrap: str) -> None:
    topic = unique_topic("partitions")
    await create_topics(kafka_bootstrap, topic, partitions=6)
    keys = [f"VIDEO{i:04d}".encode() for i in range(60)]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for key in keys:
            await producer.send(topic, b"{}", key=key)
        await producer.flush()
    finally:
        await producer.stop()

    records = await read_all(kafka_bootstrap, topic)

    assert sorted(record.key for record in records) == sorted(keys)
    assert {record.key: record.partition for record in records} == {
        key: java_partition(key, 6) for key in keys
    }
    assert len({record.partition for record in records}) == 6
