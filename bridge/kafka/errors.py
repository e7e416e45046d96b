"""What can go wrong on the way to Kafka, in Kafka's terms.

The Kafka layer raises these; the HTTP layer alone turns them into statuses
(`bridge.http.app`). Each carries the reason counted in
`bridge_producer_errors_total` and a message the sender may read.
"""

from __future__ import annotations

from aiokafka.errors import (
    KafkaError,
    MessageSizeTooLargeError,
    OutOfOrderSequenceNumber,
    RecordListTooLargeError,
)

# Records the broker refuses for their size: retrying cannot help.
TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError)
# A batch the broker refused leaves a gap in the idempotent producer's sequence
# numbers for its partition, and aiokafka does not close it: every later batch
# there fails with OutOfOrderSequenceNumber. Only a new producer starts afresh.
SEQUENCE_BREAKERS = (*TOO_LARGE, OutOfOrderSequenceNumber)


class PublishError(Exception):
    """Records were not stored; a retry may store them."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


class RecordTooLarge(PublishError):
    """The broker refused a record for its size: no retry can store it."""


class PartitionStalled(Exception):
    """The broker leading a partition has not acknowledged its last request for a while;
    more records for it would only pile up."""


class ProducerReplaced(Exception):
    """The producer holding a callback's records stopped delivering and was replaced."""


class StartupError(RuntimeError):
    """The broker answered, but the bridge cannot work with it; the message is one line."""


def refusal(error: KafkaError | ProducerReplaced) -> PublishError:
    """What the caller is told when Kafka failed a batch holding its records."""
    name = type(error).__name__
    if isinstance(error, TOO_LARGE):
        message = f"A record of this callback is larger than Kafka accepts ({name})"
        return RecordTooLarge(message, reason=name)
    return PublishError(f"Kafka refused the records: {name}", reason=name)
