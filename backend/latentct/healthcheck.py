"""Container health check in Python (the slim image has no curl): exit 0 when /api/health answers ok, else 1."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request


def check(url: str, timeout_s: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # loopback URL from our own env
            return response.status == 200 and json.loads(response.read()).get("status") == "ok"
    except (urllib.error.URLError, OSError, ValueError):
        return False


def main() -> None:
    port = os.environ.get("LATENTCT_PORT", "8000")
    url = os.environ.get("LATENTCT_HEALTH_URL", f"http://127.0.0.1:{port}/api/health")
    healthy = check(url)
    print(f"{url}: {'ok' if healthy else 'unhealthy'}")
    sys.exit(0 if healthy else 1)


if __name__ == "__main__":
    main()
