"""Container health check in Python (the slim image has no curl): exit 0 when the server answers, else 1.

`python -m latentct.healthcheck` checks liveness (/api/health says ok: the process serves HTTP; the image's
HEALTHCHECK). `python -m latentct.healthcheck --ready` checks readiness (/api/ready: every model is loaded and warm;
what compose waits for before the proxy starts). The server is found where LATENTCT_HOST and LATENTCT_PORT put it
(a wildcard host means loopback); LATENTCT_HEALTH_BASE_URL (e.g. http://10.0.0.5:8000) overrides both.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

EXPECTED_STATUS = {"health": "ok", "ready": "ready"}
WILDCARD_HOSTS = ("", "0.0.0.0", "::", "[::]")


def base_url(environ: dict[str, str] | os._Environ[str]) -> str:
    if environ.get("LATENTCT_HEALTH_BASE_URL"):
        return environ["LATENTCT_HEALTH_BASE_URL"].rstrip("/")
    host = environ.get("LATENTCT_HOST", "127.0.0.1").strip()
    host = "127.0.0.1" if host in WILDCARD_HOSTS else host
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{host}:{environ.get('LATENTCT_PORT', '8000')}"


def check(url: str, expected_status: str = "ok", timeout_s: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # loopback URL from our own env
            return response.status == 200 and json.loads(response.read()).get("status") == expected_status
    except (urllib.error.URLError, OSError, ValueError, AttributeError):
        return False


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if any(arg not in ("--ready",) for arg in args):
        print(f"usage: python -m latentct.healthcheck [--ready]; got {' '.join(args)!r}", file=sys.stderr)
        sys.exit(2)
    endpoint = "ready" if "--ready" in args else "health"
    url = f"{base_url(os.environ)}/api/{endpoint}"
    healthy = check(url, EXPECTED_STATUS[endpoint])
    print(f"{url}: {'ok' if healthy else 'unhealthy'}")
    sys.exit(0 if healthy else 1)


if __name__ == "__main__":
    main()
