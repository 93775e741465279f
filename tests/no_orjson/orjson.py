"""Put on PYTHONPATH by tests, this hides the real orjson: gradcli takes the path
of the standard library, as on an install without orjson."""

raise ImportError("orjson is hidden for this test")
