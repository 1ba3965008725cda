"""What tests and benchmarks share: a real `latentct serve` process (serverproc.py)."""
