"""The benchmark harness's own tests: its arithmetic, and a short run against a broker."""
