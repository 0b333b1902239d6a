"""The grouped router answers every request as Starlette's router over the whole list does:
the same route, the same 404, 405 (with its methods) and slash redirect, for every path the
app serves, with each route's own methods and the others."""

from __future__ import annotations

import re

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.testclient import TestClient

from dalgu.api.app import routes
from dalgu.api.route_groups import GroupedRouter, path_key

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _stand_ins() -> list[BaseRoute]:
    """The app's routes with the same paths and methods, each answering with its index."""
    made: list[BaseRoute] = []
    for index, route in enumerate(routes()):
        if isinstance(route, Route):

            async def answer(request: Request, index: int = index) -> Response:
                return PlainTextResponse(f"{index} {sorted(request.path_params.items())}")

            made.append(Route(route.path, answer, methods=route.methods))
        elif isinstance(route, Mount):
            made.append(Mount(route.path, app=PlainTextResponse(f"{index} mount")))
    return made


def _paths() -> list[str]:
    """A request path for each route (parameters filled in), and near misses of each."""
    found: set[str] = set()
    for route in _stand_ins():
        path = re.sub(r"\{[^}]*\}", "urn:ngsi-ld:X:1", getattr(route, "path", "/"))
        found.update({path, path + "/", path + "x", path + "/extra", path.rsplit("/", 1)[0]})
    found.update({"/", "/nothing", "/ngsi-ld/v1", "/ngsi-ld/v1/", "/ngsi-ld/v1/unknown"})
    return sorted(found)


def _client(router: Router) -> TestClient:
    app = Starlette()
    app.router = router
    return TestClient(app, follow_redirects=False)


@pytest.fixture(scope="module")
def pair() -> tuple[TestClient, TestClient]:
    return _client(Router(_stand_ins())), _client(GroupedRouter(_stand_ins()))


def test_every_route_of_the_app_is_in_a_group() -> None:
    grouped = GroupedRouter(_stand_ins())
    assert sum(len(g.routes) for g in grouped.groups.values()) == len(grouped.routes)
    assert "/opendata" in grouped.groups and "/ngsi-ld/v1/entities" in grouped.groups


@pytest.mark.parametrize("path", _paths())
def test_each_request_ends_as_with_the_whole_list(
    pair: tuple[TestClient, TestClient], path: str
) -> None:
    whole, grouped = pair
    for method in METHODS:
        expected = whole.request(method, path)
        got = grouped.request(method, path)
        assert (
            got.status_code,
            got.text,
            got.headers.get("allow"),
            got.headers.get("location"),
        ) == (
            expected.status_code,
            expected.text,
            expected.headers.get("allow"),
            expected.headers.get("location"),
        ), (method, path)


def test_path_keys() -> None:
    assert path_key("/ngsi-ld/v1/entities/urn:a:b/attrs") == "/ngsi-ld/v1/entities"
    assert path_key("/ngsi-ld/v1/types") == "/ngsi-ld/v1/types"
    assert path_key("/opendata/api/3/action/package_show") == "/opendata"
    assert path_key("/fhir") == "/fhir"


def test_a_route_with_a_parameter_in_its_key_leaves_the_list_whole() -> None:
    async def answer(request: Request) -> Response:
        return PlainTextResponse("x")

    router = GroupedRouter([Route("/a/b", answer), Route("/{tenant}/c", answer)])
    assert router.groups == {}
    assert _client(router).get("/t/c").text == "x"
