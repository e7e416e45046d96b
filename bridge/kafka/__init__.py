"""The Kafka layer: client options, topics, the producer and its watchdog, batching.

It raises Kafka-level errors (`bridge.kafka.errors`); the HTTP layer alone decides statuses.
"""
