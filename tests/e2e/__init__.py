"""End to end: `bridge` against a real Kafka broker (or the three-node cluster), read back."""
