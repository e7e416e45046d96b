"""The video callback bridge: platform upload callbacks in, one Kafka record per video out."""

__version__ = "0.1.0"
