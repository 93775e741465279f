"""Put on PYTHONPATH by tests, this hides the real prompt_toolkit: gradcli repl runs as
on an install without the ``repl`` extra."""

raise ImportError("No module named 'prompt_toolkit' (hidden for this test)")
