"""The operator's tools: the `bridge` command, a test client, topic readers, the reconciler."""
