"""What the lab's websites answer: realistic pages, redirects, odd servers.

Each function returns an ``App`` (request -> response).  Pages are made of
deterministic text so that the probe and the test helper, fetching the same
URL, receive byte-identical bodies unless a site deliberately answers the
probe differently (the CAPTCHA and broken-redirect sites).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import AsyncIterator, Callable, Mapping

from censorscope.lab.addressing import is_subscriber
from censorscope.lab.web import App, Request, Response, html_response, redirect

LARGE_FILE_SIZE = 1 << 25  # 32 MiB, like the QA suite's largefile.com
_WORDS = (
    "network", "measurement", "report", "citizens", "access", "information",
    "freedom", "open", "data", "community", "journal", "press", "election",
    "minister", "market", "weather", "sport", "culture", "science", "health",
    "education", "transport", "energy", "water", "agriculture", "festival",
    "library", "archive", "history", "music", "cinema", "travel", "economy",
    "parliament", "court",
)  # fmt: skip
_large_file: bytes | None = None


def page_html(title: str, size: int) -> str:
    """An HTML page titled ``title`` of about ``size`` bytes of text."""
    chooser = random.Random(hashlib.sha256(title.encode()).digest())
    paragraphs: list[str] = []
    length = 0
    while length < size:
        words = chooser.choices(_WORDS, k=chooser.randint(25, 60))
        paragraph = f"<p>{' '.join(words).capitalize()}.</p>"
        paragraphs.append(paragraph)
        length += len(paragraph) + 1
    body = "\n".join(paragraphs)
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{title}</title>"
        f"</head>\n<body><h1>{title}</h1>\n{body}\n</body></html>\n"
    )


def page(title: str, size: int = 2400, headers: Mapping[str, str] | None = None) -> App:
    """A 200 page, the same for every visitor."""
    html = page_html(title, size)
    extra = list((headers or {}).items())
    return lambda request: html_response(200, html, extra)


def moved_to(location: str, status: int = 308) -> App:
    """Redirect every request to ``location``."""
    return lambda request: redirect(location, status)


def to_www(scheme: str = "https") -> App:
    """A bare domain that sends visitors to ``<scheme>://www.<domain>/``."""
    return lambda request: redirect(f"{scheme}://www.{request.host}/", 308)


def server_error(status: int = 500) -> App:
    """A site that is broken for everybody (not censorship)."""
    html = page_html(f"{status} Internal Server Error", 300)
    return lambda request: html_response(status, html, [])


def api_answer(status: int, payload: str, content_type: str) -> App:
    """An API endpoint answering every request with ``payload``.

    The messaging services' backends get such answers: their tests ignore
    status codes and bodies, so only a well-formed HTTP answer matters.
    """
    headers = [("Content-Type", content_type)]
    return lambda request: Response(status, payload.encode(), headers)


def blockpage_response(operator: str) -> Response:
    """The page a censor shows instead of the site (close-delimited)."""
    html = (
        "<html><head><title>Access Denied</title></head><body>"
        "<h1>Access Denied</h1><p>Access to this website has been blocked "
        f"by order of the authorities. {operator}</p></body></html>"
    )
    headers = [("Content-Type", "text/html"), ("Server", "lab-censor")]
    return Response(200, html.encode(), headers, close_delimited=True)


def blockpage(operator: str) -> App:
    """A blockpage server: the same page for any host and path."""
    return lambda request: blockpage_response(operator)


_RAY_ID = "8a1b2c3d4e5f6789"
# Cloudflare's "I'm Under Attack" interstitial as it was served for years
# (trimmed of its obfuscated script): OONI's false-positive fingerprints
# cp.fp_x_cloudflare_check and cp.fp_x_cloudflare_error_1 match it.
_CHALLENGE = """<!DOCTYPE HTML>
<html lang="en-US">
<head>
  <meta charset="UTF-8" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
  <meta http-equiv="X-UA-Compatible" content="IE=Edge,chrome=1" />
  <meta name="robots" content="noindex, nofollow" />
  <meta name="viewport" content="width=device-width,initial-scale=1" />
  <title>Just a moment...</title>
</head>
<body>
  <table width="100%" height="100%" cellpadding="20">
    <tr>
      <td align="center" valign="middle">
        <div class="cf-browser-verification cf-im-under-attack">
          <noscript><h1 data-translate="turn_on_js" style="color:#bd2426;">Please \
turn JavaScript on and reload the page.</h1></noscript>
          <div id="cf-content" style="display:none">
            <h1><span data-translate="checking_browser">Checking your browser \
before accessing</span> {host}.</h1>
            <p data-translate="process_is_automatic">This process is automatic. \
Your browser will redirect to your requested content shortly.</p>
            <p data-translate="allow_5_secs">Please allow up to 5 seconds&hellip;</p>
          </div>
          <form id="challenge-form" action="/?__cf_chl_jschl_tk__={token}" \
method="POST" enctype="application/x-www-form-urlencoded">
            <input type="hidden" name="r" value="{token}"/>
            <input type="hidden" value="" id="jschl-answer" name="jschl_answer"/>
          </form>
        </div>
        <div class="attribution">
          <a href="https://www.cloudflare.com/5xx-error-landing?utm_source=iuam" \
target="_blank" style="font-size: 12px;">DDoS protection by Cloudflare</a>
          <br />
          Ray ID: {ray}
        </div>
      </td>
    </tr>
  </table>
</body>
</html>
"""


def challenge_html(host: str) -> str:
    """Cloudflare's browser check ("Just a moment...") for ``host``."""
    token = hashlib.sha256(host.encode()).hexdigest()[:40]
    return _CHALLENGE.format(host=host, token=token, ray=_RAY_ID)


def captcha(title: str) -> App:
    """Cloudflare-like: a 503 browser check to subscribers, the real page to others.

    The probe (a subscriber) gets the challenge, the test helper the site:
    classic web connectivity calls that ``http-diff``.
    """
    real = page_html(title, 3000)
    headers = [("Server", "cloudflare"), ("Cf-Ray", f"{_RAY_ID}-LAB")]
    headers += [("Nel", '{"success_fraction":0,"max_age":604800}')]
    challenge_headers = [
        ("Cache-Control", "private, max-age=0, no-store, no-cache, must-revalidate"),
        ("X-Frame-Options", "SAMEORIGIN"),
        *headers,
    ]

    def app(request: Request) -> Response:
        if is_subscriber(request.peer):
            return html_response(503, challenge_html(request.host), challenge_headers)
        return html_response(200, real, headers)

    return app


def httpbin() -> App:
    """``/redirect/N`` chains and redirects that are broken for subscribers."""
    front = page_html("httpbin.org", 1500)

    def app(request: Request) -> Response:
        path = request.path
        if path.startswith("/redirect/") and path[10:].isdigit():
            hops = int(path[10:])
            if hops == 0:
                return html_response(200, front, [])
            return redirect(f"/redirect/{hops - 1}", 302)
        if path.startswith("/broken-redirect-"):
            scheme = path.removeprefix("/broken-redirect-")
            if is_subscriber(request.peer):
                return redirect(f"{scheme}://", 302)
            return redirect(f"{scheme}://www.example.com/", 302)
        return html_response(404, "<html><title>404 Not Found</title></html>", [])

    return app


def shortener(links: Mapping[str, str]) -> App:
    """A URL shortener: 308 from ``/<code>`` to its destination, else 404."""

    def app(request: Request) -> Response:
        location = links.get(request.path)
        if location is None:
            return html_response(404, "<html><title>Not Found</title></html>", [])
        return redirect(location, 308)

    return app


def large_file() -> App:
    """32 MiB of pseudo-random bytes, streamed."""

    def app(request: Request) -> Response:
        data = _large_file_bytes()
        headers = [("Content-Type", "application/octet-stream")]
        return Response(200, headers=headers, stream=_chunks(data), length=len(data))

    return app


def _large_file_bytes() -> bytes:
    global _large_file  # noqa: PLW0603 - generated once per process, then reused
    if _large_file is None:
        _large_file = random.Random(25).randbytes(LARGE_FILE_SIZE)
    return _large_file


def _chunks(data: bytes) -> Callable[[], AsyncIterator[bytes]]:
    async def generate() -> AsyncIterator[bytes]:
        view = memoryview(data)
        for start in range(0, len(data), 256 * 1024):
            yield bytes(view[start : start + 256 * 1024])

    return generate


def ip_discovery(request: Request) -> Response:
    """Cloudflare-trace lines telling a client its own address."""
    lines = [
        f"h={request.host}",
        f"ip={request.peer}",
        f"visit_scheme={request.scheme}",
    ]
    text = "fl=lab\n" + "\n".join(lines) + "\n"
    headers = [("Content-Type", "text/plain")]
    return Response(200, text.encode(), headers)
