"""What tests and benchmarks share: a real `latentct serve` process (serverproc.py), the in-process CLI runner
(cli.py), the reference checkpoints' key layout (reference_layout.py)."""
