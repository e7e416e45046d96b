"""Unit tests, laid out as bridge/ is: no broker, no network, no other process."""
