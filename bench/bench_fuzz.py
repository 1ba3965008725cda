"""Schemathesis against a real `latentct serve`, thousands of generated requests: counts per status and per endpoint.

    .venv/bin/python bench/bench_fuzz.py [--examples 100] [--seed 1] [--out bench/results/fuzz.md]

The server serves the hardening test models (tiny GAN and VAE, a truncated model, a garbage direction set, a model
folder holding only a pickle, pickles beside valid weights: tests/hardening/conftest.py) from a temporary folder, with
an admin token. Every operation of its OpenAPI schema gets `--examples` cases in each of three passes (valid input,
invalid input, valid input on the served model and set ids), checked for 5xx and for responses that do not match
their declared schema (tests/hardening/fuzzing.py). Prints the table and every distinct failure with a curl line to
replay it, writes `--out`, and exits 1 when any request got a 5xx (0 otherwise); no pickle may have been unpickled.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.hardening.conftest import build_hardening_models_dir  # noqa: E402
from tests.hardening.fuzzing import fuzz  # noqa: E402
from tests.hardening.serverproc import ADMIN_TOKEN, ServerProcess, free_port, server_env  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100, help="cases per operation and pass (19 operations x 3 passes)")
    parser.add_argument("--seed", type=int, default=1, help="Hypothesis seed (same seed, same requests)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "fuzz.md", help="markdown report")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="latentct-fuzz-") as tmp:
        root = Path(tmp)
        models_dir, markers_dir = build_hardening_models_dir(root)
        env = server_env(models_dir, root / "var", free_port(), admin_token=ADMIN_TOKEN, log_level="warning")
        server = ServerProcess(env, root / "server.log").start().wait_ready()
        try:
            report = fuzz(server.base_url, ADMIN_TOKEN, args.examples, random_seed=args.seed,
                          progress=lambda line: print(line, flush=True))
            rss_kib = server.rss_kib()
        finally:
            server.stop()
        log = server.log()
        unpickled = sorted(p.name for p in markers_dir.iterdir())
    server_errors = sum(n for code, n in report.by_status().items() if code >= 500)
    lines = [
        f"# Fuzzing the REST API with Schemathesis ({time.strftime('%Y-%m-%d %H:%M')}, seed {args.seed})\n",
        f"{report.requests} requests in {report.seconds:.0f} s ({report.requests / max(report.seconds, 1e-9):.0f}/s), "
        f"{args.examples} examples per operation and pass; {server_errors} answered 5xx; "
        f"server RSS at the end {rss_kib / 1024:.0f} MiB; tracebacks in the server log: {log.count('Traceback')}; "
        f"pickles unpickled: {len(unpickled)}.\n",
        report.table(),
        "\n## Distinct failures (check, operation, status)\n",
    ]
    summary = report.failure_summary()
    for operation, status, kind, count, curl in summary:
        lines += [f"- {count} x `{operation}` -> {status}: {kind}", f"  - replay: `{curl[:400]}`"]
    if not summary:
        lines.append("none")
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"written to {args.out}")
    sys.exit(1 if server_errors or unpickled else 0)


if __name__ == "__main__":
    main()
