"""Security headers on every answer, whoever gave it (the API, Open311, the admin UI, static
files, errors): a Content-Security-Policy that runs only the site's own script files (no inline
script, no eval), forbids framing (clickjacking), no MIME sniffing, no full referrer to other
sites, and HSTS when the deployment is served over TLS (the `tls` setting). A header a route
set itself is left as it is.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def policy(tiles: str | None = None) -> str:
    """The policy; `tiles`, the origin of the maps' basemap (the `map_tiles` setting), may
    give images too."""
    # charts export to data: URLs; previews of chosen photos are blobs
    images = " ".join(["img-src 'self' data: blob:"] + ([tiles] if tiles else []))
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            images,
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


POLICY = policy()
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),  # for browsers that predate frame-ancestors
    (b"referrer-policy", b"same-origin"),
]
# a year, as browsers' preload lists ask; not includeSubDomains: a city's other sites on the
# same domain may not be on TLS yet
HSTS = (b"strict-transport-security", b"max-age=31536000")


class SecurityHeaders:
    def __init__(self, app: ASGIApp, tls: bool = False, tiles: str | None = None) -> None:
        self.app = app
        self.headers = (
            [(b"content-security-policy", policy(tiles).encode())] + HEADERS + ([HSTS] if tls else [])
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in self.headers if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)
