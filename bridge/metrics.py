"""Prometheus metrics. Label values are bounded: route templates, topic names, error classes."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Callbacks are answered in milliseconds; a slow Kafka stretches them to the timeout.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "bridge_http_requests", "HTTP requests answered", ["route", "status"], registry=r
        )
        self.request_seconds = Histogram(
            "bridge_http_request_duration_seconds",
            "Time to answer a request",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.requests_in_flight = Gauge(
            "bridge_http_requests_in_flight", "Callbacks being handled", registry=r
        )
        self.records = Counter(
            "bridge_records_produced", "Records acknowledged by Kafka", ["topic"], registry=r
        )
        self.dead_letters = Counter(
            "bridge_records_dead_lettered",
            "Bodies or items kept in the dead-letter topic",
            ["route", "scope"],
            registry=r,
        )
        self.records_in_flight = Gauge(
            "bridge_records_in_flight",
            "Records handed to Kafka and not yet acknowledged",
            registry=r,
        )
        self.produce_seconds = Histogram(
            "bridge_produce_duration_seconds",
            "Time from handing a callback's records to Kafka until all are acknowledged",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.producer_errors = Counter(
            "bridge_producer_errors", "Publishes that failed, by cause", ["error"], registry=r
        )
        self.producer_recreations = Counter(
            "bridge_producer_recreations",
            "Producers replaced because they stopped delivering",
            registry=r,
        )
        self.kafka_ready = Gauge(
            "bridge_kafka_ready",
            "1 when the producer is connected and metadata is fresh",
            registry=r,
        )
        self.auth_failures = Counter(
            "bridge_auth_failures", "Requests refused by authentication", ["reason"], registry=r
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
