"""Schemathesis against a real `latentct serve`, thousands of generated requests: counts per status and per endpoint.

    .venv/bin/python bench/bench_fuzz.py [--examples 100] [--seed 1] [--out bench/results/fuzz.md]

The server serves the hardening test models (tiny GAN and VAE, a truncated model, a garbage direction set, a model
folder holding only a pickle, pickles beside valid weights: tests/hardening/conftest.py) from a temporary folder, with
an admin token. Every operation of its OpenAPI schema gets `--examples` cases in each of three passes (valid input,
invalid input, valid input on the served model and set ids), checked for 5xx and for responses that do not match
their declared schema (tests/hardening/fuzzing.py). Prints the table and every distinct failure with a curl line to
replay it, writes `--out`, and exits 1 when any request got a 5xx (0 otherwise); no pickle may have been unpickled.

Then the DICOM decompression bombs of tests/hardening/dicom_bombs.py go to POST /encode one at a time, beside two
legitimate slices for scale: each row gives the status, the time to answer, how far the server's peak RSS rose above
its RSS before the upload (peak reset with /proc/<pid>/clear_refs) and the CPU time the server spent. `--bombs-only`
skips the fuzzing. Exits 1 as well when a bomb is not refused, or costs over 1 s or 100 MiB.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from pydicom.uid import RLELossless  # noqa: E402
from tests.hardening.conftest import build_hardening_models_dir  # noqa: E402
from tests.hardening.dicom_bombs import BOMBS, UploadAnswer, send_upload, slice_file, thorax_hu  # noqa: E402
from tests.hardening.fuzzing import FuzzReport, fuzz  # noqa: E402
from tests.support.serverproc import ADMIN_TOKEN, ServerProcess, free_port, server_env  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100, help="cases per operation and pass (19 operations x 3 passes)")
    parser.add_argument("--seed", type=int, default=1, help="Hypothesis seed (same seed, same requests)")
    parser.add_argument("--out", type=Path, default=None,
                        help="markdown report (default bench/results/fuzz.md, with --bombs-only dicom_bombs.md)")
    parser.add_argument("--bombs-only", action="store_true", help="skip the fuzzing, send only the DICOM bombs")
    args = parser.parse_args()
    args.out = args.out or REPO / "bench" / "results" / ("dicom_bombs.md" if args.bombs_only else "fuzz.md")
    with tempfile.TemporaryDirectory(prefix="latentct-fuzz-") as tmp:
        root = Path(tmp)
        models_dir, markers_dir = build_hardening_models_dir(root)
        env = server_env(models_dir, root / "var", free_port(), admin_token=ADMIN_TOKEN, log_level="warning")
        server = ServerProcess(env, root / "server.log").start_ready()
        try:
            report = None if args.bombs_only else fuzz(server.base_url, ADMIN_TOKEN, args.examples, random_seed=args.seed,
                                                       progress=lambda line: print(line, flush=True))
            rss_kib = server.rss_kib()
            bombs = send_bombs(server)
        finally:
            server.stop()
        log = server.log()
        unpickled = sorted(p.name for p in markers_dir.iterdir())
    bomb_failures = [a.name for a in bombs if not a.name.startswith("legit") and not bomb_contained(a)]
    lines = fuzz_lines(report, args, rss_kib, log, unpickled) if report is not None else [
        f"# DICOM decompression bombs against a real server ({time.strftime('%Y-%m-%d %H:%M')})"
    ]
    lines += bomb_lines(bombs)
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"written to {args.out}")
    server_errors = 0 if report is None else sum(n for code, n in report.by_status().items() if code >= 500)
    sys.exit(1 if server_errors or unpickled or bomb_failures else 0)


def fuzz_lines(report: FuzzReport, args: argparse.Namespace, rss_kib: int, log: str, unpickled: list[str]) -> list[str]:
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
    return lines


def send_bombs(server: ServerProcess) -> list[UploadAnswer]:
    """Two legitimate slices for scale, then every bomb, one at a time. The second slice is the most a small upload can
    legally ask for: 4096 x 4096 of air, 16 bit, in about 1 MB of RLE."""
    legit = {
        "legit-512-rle": slice_file(thorax_hu(512).round(), RLELossless),
        "legit-4096-rle-air (largest legal)": slice_file(np.full((4096, 4096), -1000.0, np.float32), RLELossless),
    }
    with server.client(timeout=120) as client:
        send_upload(server, client, "warm-up", legit["legit-512-rle"])
        answers = [send_upload(server, client, name, data) for name, data in legit.items()]
        answers += [send_upload(server, client, name, build()) for name, (build, _) in sorted(BOMBS.items())]
    return answers


def bomb_contained(answer: UploadAnswer) -> bool:
    return answer.status == BOMBS[answer.name][1] and answer.seconds < 1.0 and answer.rss_growth_mib < 100


def bomb_lines(answers: list[UploadAnswer]) -> list[str]:
    lines = [
        "\n## DICOM decompression bombs on POST /encode (one at a time)\n",
        "| upload | bytes | status | seconds | peak RSS growth (MiB) | server CPU (s) | answer |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for a in answers:
        lines.append(f"| {a.name} | {a.size_bytes} | {a.status} | {a.seconds:.3f} | {a.rss_growth_mib:.1f} | "
                     f"{a.cpu_seconds:.2f} | {a.detail[:90]} |")
    return lines


if __name__ == "__main__":
    main()
