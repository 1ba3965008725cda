"""The app's browser security headers reach the browser through deploy/nginx.conf unchanged, once each."""

from __future__ import annotations

import httpx

from tests.deploy.test_nginx import needs_nginx, proxy  # noqa: F401  (the fixture: a real nginx before the image's server)

HEADERS = ("content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy")


@needs_nginx
def test_security_headers_pass_through_the_proxy_once_each(proxy: str) -> None:  # noqa: F811
    with httpx.Client(base_url=f"http://{proxy}", timeout=30) as client:
        for path in ("/", "/api/models", "/api/models/tiny-gan/image.png?seed=1", "/api/models/no-such-model"):
            response = client.get(path)
            for name in HEADERS:
                assert len(response.headers.get_list(name)) == 1, (path, name, dict(response.headers))
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
            assert response.headers["x-frame-options"] == "DENY" and response.headers["x-content-type-options"] == "nosniff"
