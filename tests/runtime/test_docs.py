"""/docs and /redoc load with nothing from outside: every script, style sheet and icon they name
is served by the service itself, and the pages name no external URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from html.parser import HTMLParser

import httpx
import pytest

from services.offers.app import build_app
from services.runtime.docs import ASSETS_DIR

LOADED = {("script", "src"), ("link", "href"), ("redoc", "spec-url")}


class _Links(HTMLParser):
    """The URLs a page makes the browser load: <script src>, <link href>, <redoc spec-url>."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and (tag, name) in LOADED:
                self.urls.append(value)


def links(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.urls


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # The docs need no database or broker: the app is driven without its lifespan.
    transport = httpx.ASGITransport(app=build_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        yield client


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}),
        ("/redoc", {"redoc.standalone.js", "favicon.png", "openapi.json"}),
    ],
)
async def test_a_docs_page_and_its_assets_load_from_the_service(
    client: httpx.AsyncClient, page: str, expected: set[str]
) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "http://" not in html and "https://" not in html, "the page names an external URL"
    urls = links(html)
    assert {url.rsplit("/", 1)[-1] for url in urls} >= expected
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
        if url.startswith("/docs-assets/"):
            assert asset.content == (ASSETS_DIR / url.rsplit("/", 1)[-1]).read_bytes()


async def test_swagger_ui_loads_the_service_document_and_asks_no_outside_validator(
    client: httpx.AsyncClient,
) -> None:
    html = (await client.get("/docs")).text
    assert "url: '/openapi.json'" in html
    assert '"validatorUrl": null' in html
    redirect = await client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200
    assert "http://" not in redirect.text and "https://" not in redirect.text


async def test_the_assets_are_the_real_bundles(client: httpx.AsyncClient) -> None:
    swagger = await client.get("/docs-assets/swagger-ui-bundle.js")
    redoc = await client.get("/docs-assets/redoc.standalone.js")
    assert "javascript" in swagger.headers["content-type"]
    assert b"SwaggerUIBundle" in swagger.content
    assert b"Redoc" in redoc.content
    assert len(swagger.content) > 500_000 and len(redoc.content) > 500_000


async def test_the_documentation_routes_stay_out_of_the_openapi_document(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not [path for path in paths if path.startswith(("/docs", "/redoc"))]
