"""HTTP side of the testbed: start conformance runs, follow them, read their reports.

    POST /testbed/runs       {"profile": "air-quality" | {...}, "apikey": "...", "duration": 600}
    GET  /testbed/runs       the sandbox's runs, running and finished
    GET  /testbed/runs/{id}  one run (with its report once finished)
    GET  /testbed/runs/{id}/report.html
    POST /testbed/sandboxes  (and GET, PATCH, DELETE, /reset; /keys to issue, rotate, revoke)

The sandbox is the `fiware-service` header (the NGSI-LD tenant), as for provisioning.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from dalgu.api.edge import runtime
from dalgu.api.respond import plain_json
from dalgu.errors import BadRequestData, OperationNotSupported
from dalgu.gateway.http import _tenant, json_body
from dalgu.testbed.keys import IssuedKey
from dalgu.testbed.profile import DeviceProfile, parse_profile, shipped_profile, shipped_profiles
from dalgu.testbed.report_html import render_report
from dalgu.testbed.runs import TestbedService
from dalgu.testbed.sandboxes import Sandbox, SandboxService


def _testbed(request: Request) -> TestbedService:
    service = runtime(request).testbed
    if service is None:
        raise OperationNotSupported("this store keeps no testbed reports")
    return service


def _profile(value: Any) -> DeviceProfile:
    """A shipped profile's name, or the profile itself: an object, or its YAML or JSON text.
    Never a path: a client names no file on the server (the CLI sends a file's content)."""
    if isinstance(value, str) and value in shipped_profiles():
        return shipped_profile(value)
    if isinstance(value, str) and ("\n" in value.strip() or value.lstrip()[:1] == "{"):
        return parse_profile(value)
    if isinstance(value, dict):
        import orjson

        return parse_profile(orjson.dumps(value))
    raise BadRequestData(
        "profile is a shipped profile's name (one of "
        f"{', '.join(shipped_profiles())}), a profile object, or its YAML or JSON text; "
        "a file is read by `dalgu testbed run --profile <file>`, which sends its content"
    )


async def start_run(request: Request) -> Response:
    tenant, _ = _tenant(request)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise BadRequestData("the body is a JSON object {profile, apikey, duration}")
    apikey, duration = body.get("apikey"), body.get("duration", 600)
    if not isinstance(apikey, str) or not apikey:
        raise BadRequestData("apikey names the config group whose devices are checked")
    if not isinstance(duration, (int, float)) or isinstance(duration, bool):
        raise BadRequestData("duration is a number of seconds")
    run = await _testbed(request).start(tenant, apikey, _profile(body.get("profile")), duration)
    return plain_json(run, status=201, headers={"Location": f"/testbed/runs/{run['id']}"})


async def list_runs(request: Request) -> Response:
    tenant, _ = _tenant(request)
    return plain_json(await _testbed(request).list(tenant))


async def get_run(request: Request) -> Response:
    tenant, _ = _tenant(request)
    return plain_json(await _testbed(request).get(tenant, request.path_params["run_id"]))


async def run_report_html(request: Request) -> Response:
    tenant, _ = _tenant(request)
    doc = await _testbed(request).get(tenant, request.path_params["run_id"])
    if doc.get("status") != "finished":
        raise BadRequestData("the run is still recording; its report comes when it ends")
    return HTMLResponse(render_report(doc))


def _sandboxes(request: Request) -> SandboxService:
    service = runtime(request).sandboxes
    if service is None:
        raise OperationNotSupported("this store keeps no sandboxes")
    return service


def _sandbox_out(sandbox: Sandbox) -> dict[str, Any]:
    return sandbox.model_dump(exclude_none=True)


def _key_out(key: IssuedKey) -> dict[str, str]:
    return {"id": key.id, "key": key.key, "created": key.created}


async def create_sandbox(request: Request) -> Response:
    """Self-registration: the sandbox, its tenant and its first API key (shown this once)."""
    sandbox, key = await _sandboxes(request).create(await json_body(request))
    headers = {"Location": f"/testbed/sandboxes/{sandbox.name}"}
    body = {**_sandbox_out(sandbox), "tenant": sandbox.name, "apiKeys": [_key_out(key)]}
    return plain_json(body, status=201, headers=headers)


async def _existing(request: Request) -> str:
    name: str = request.path_params["name"]
    await _sandboxes(request).get(name)
    return name


async def list_keys(request: Request) -> Response:
    name = await _existing(request)
    return plain_json(await _sandboxes(request).keys.listed(name))


async def issue_key(request: Request) -> Response:
    name = await _existing(request)
    key = await _sandboxes(request).keys.issue(name)
    return plain_json(_key_out(key), status=201)


async def rotate_key(request: Request) -> Response:
    name = await _existing(request)
    key = await _sandboxes(request).keys.rotate(name, request.path_params["key_id"])
    return plain_json(_key_out(key), status=201)


async def revoke_key(request: Request) -> Response:
    name = await _existing(request)
    await _sandboxes(request).keys.revoke(name, request.path_params["key_id"])
    return Response(status_code=204)


async def list_sandboxes(request: Request) -> Response:
    return plain_json([_sandbox_out(s) for s in await _sandboxes(request).list()])


async def get_sandbox(request: Request) -> Response:
    return plain_json(_sandbox_out(await _sandboxes(request).get(request.path_params["name"])))


async def update_sandbox(request: Request) -> Response:
    name = request.path_params["name"]
    sandbox = await _sandboxes(request).update(name, await json_body(request))
    return plain_json(_sandbox_out(sandbox))


async def reset_sandbox(request: Request) -> Response:
    name = request.path_params["name"]
    await _sandboxes(request).reset(name)
    _devices_gone(request, name)
    return Response(status_code=204)


async def delete_sandbox(request: Request) -> Response:
    name = request.path_params["name"]
    await _sandboxes(request).delete(name)
    _devices_gone(request, name)
    return Response(status_code=204)


def _devices_gone(request: Request, tenant: str) -> None:
    """The gateway forgets the devices a reset removed: they are refused from now on (other
    server processes read the store again within `BINDING_LIFETIME`)."""
    devices = runtime(request).devices
    if devices is not None:
        devices.provisioning_changed(tenant)


def routes() -> list[Route]:
    return [
        Route("/testbed/sandboxes", create_sandbox, methods=["POST"]),
        Route("/testbed/sandboxes", list_sandboxes, methods=["GET"]),
        Route("/testbed/sandboxes/{name}", get_sandbox, methods=["GET"]),
        Route("/testbed/sandboxes/{name}", update_sandbox, methods=["PATCH"]),
        Route("/testbed/sandboxes/{name}", delete_sandbox, methods=["DELETE"]),
        Route("/testbed/sandboxes/{name}/reset", reset_sandbox, methods=["POST"]),
        Route("/testbed/sandboxes/{name}/keys", list_keys, methods=["GET"]),
        Route("/testbed/sandboxes/{name}/keys", issue_key, methods=["POST"]),
        Route("/testbed/sandboxes/{name}/keys/{key_id}/rotate", rotate_key, methods=["POST"]),
        Route("/testbed/sandboxes/{name}/keys/{key_id}", revoke_key, methods=["DELETE"]),
        Route("/testbed/runs", start_run, methods=["POST"]),
        Route("/testbed/runs", list_runs, methods=["GET"]),
        Route("/testbed/runs/{run_id}/report.html", run_report_html, methods=["GET"]),
        Route("/testbed/runs/{run_id}", get_run, methods=["GET"]),
    ]
