"""The benchmark harness: the bridge against its ceilings and a naive bridge (see README.md)."""
