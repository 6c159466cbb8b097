"""The simulator's answers have (at least) the keys of ConnectWise's real response shapes in
tests/fixtures/connectwise/real_shapes/, and those fixtures only use keys that ConnectWise's
schema (through pyconnectwise's generated models) knows."""

from __future__ import annotations

import json
import types
import typing
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import BaseModel

from providers.psa.connectwise.config import basic_authorization
from providers.psa.simulator import (
    SERVICE_TICKET_SCREEN_ID,
    SimulatorState,
    create_simulator_app,
)

with warnings.catch_warnings():
    # pyconnectwise's generated models pass pydantic a v1-style `example=` when imported.
    warnings.simplefilter("ignore", DeprecationWarning)
    from pyconnectwise.models import manage

SHAPES_DIR = Path(__file__).parent / "fixtures" / "connectwise" / "real_shapes"
CALLBACK = {"url": "http://x.example/hook?recordId=", "objectId": 1, "type": "Ticket"}
CALLBACK["level"] = "Owner"
POD = {"description": "FP", "screenId": SERVICE_TICKET_SCREEN_ID, "type": "Pod"}
POD["url"] = "https://fp.example/pod?id=[cw_id]"

# Fixture → the pyconnectwise model its keys must belong to.
MODELS: dict[str, type[BaseModel]] = {
    "ticket__pyconnectwise_model": manage.Ticket,
    "board_status__pyconnectwise_model": manage.BoardStatus,
    "service_note__pyconnectwise_model": manage.ServiceNote,
    "count__pyconnectwise_model": manage.Count,
    "callback_entry__pyconnectwise_model": manage.CallbackEntry,
    "hosted_setup__pyconnectwise_model": manage.ConnectWiseHostedSetup,
    "hosted_screens__pyconnectwise_model": manage.ConnectWiseHostedScreen,
    "my_member_info__pyconnectwise_model": manage.MyMemberInfo,
}


class Sim:
    def __init__(self, state: SimulatorState, session: aiohttp.ClientSession):
        self.state = state
        self.session = session

    async def call(
        self, method: str, path: str, status: int = 200, *, auth: str | None = None, **kwargs
    ) -> Any:
        """The parsed body of one request; the site root is used for paths starting with /."""
        state = self.state
        url = f"{state.site_url}{path}" if path.startswith("/") else f"{state.api_url}{path}"
        headers = {
            "clientId": state.client_id,
            "Authorization": auth
            or basic_authorization(state.company_id, state.public_key, state.private_key),
        }
        async with self.session.request(method, url, headers=headers, **kwargs) as resp:
            assert resp.status == status, await resp.text()
            return await resp.json()


@pytest.fixture
async def sim(aiohttp_server):
    state = SimulatorState.demo()
    server = await aiohttp_server(create_simulator_app(state))
    state.site_url = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as session:
        yield Sim(state, session)
    await state.drain_callbacks()


async def _callback_body(sim: Sim) -> Any:
    """The body of a callback the simulator sends after a technician closes a ticket."""
    received: list[bytes] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = site._server.sockets[0].getsockname()[1]
        sim.state.add_callback({**CALLBACK, "url": f"http://127.0.0.1:{port}/hook?recordId="})
        sim.state.close_ticket(5001)
        await sim.state.drain_callbacks()
    finally:
        await runner.cleanup()
    (raw,) = received
    return json.loads(raw)


async def _signing_key(sim: Sim) -> Any:
    return await sim.call("GET", sim.state.key_url().removeprefix(sim.state.site_url))


async def _cloud_company_info(sim: Sim) -> Any:
    sim.state.cloud = True
    return await sim.call("GET", f"/login/companyinfo/{sim.state.company_id}")


async def _pod_member_info(sim: Sim) -> Any:
    auth = basic_authorization(sim.state.company_id, "jsmith", "jsmith-demo-hash-6b2f9d0e")
    return await sim.call("GET", "system/myMembers/info", auth=auth)


async def _duplicate_callback(sim: Sim) -> Any:
    await sim.call("POST", "system/callbacks", 201, json=CALLBACK)
    return await sim.call("POST", "system/callbacks", 400, json=CALLBACK)


Fetch = Callable[[Sim], Awaitable[Any]]
# Fixture → how to get the simulator's answer of that shape.
ANSWERS: dict[str, Fetch] = {
    "ticket__pyconnectwise_model": lambda sim: sim.call("GET", "service/tickets/5001"),
    "board_status__pyconnectwise_model": lambda sim: sim.call("GET", "service/boards/1/statuses"),
    "service_note__pyconnectwise_model": lambda sim: sim.call(
        "POST", "service/tickets/5002/notes", 201, json={"text": "x", "resolutionFlag": True}
    ),
    "count__pyconnectwise_model": lambda sim: sim.call("GET", "service/tickets/count"),
    "callback_entry__pyconnectwise_model": lambda sim: sim.call(
        "POST", "system/callbacks", 201, json=CALLBACK
    ),
    "hosted_setup__pyconnectwise_model": lambda sim: sim.call(
        "POST", "system/connectwisehostedsetups", 201, json=POD
    ),
    "hosted_screens__pyconnectwise_model": lambda sim: sim.call(
        "GET", "system/connectWiseHostedScreens"
    ),
    "my_member_info__pyconnectwise_model": _pod_member_info,
    "error_object_exists__cw_developer_guide": _duplicate_callback,
    "error_required_field__cw_developer_guide": lambda sim: sim.call(
        "POST", "system/callbacks", 400, json={**CALLBACK, "objectId": None}
    ),
    "error_not_found__cw_developer_guide": lambda sim: sim.call("GET", "service/tickets/999", 404),
    "companyinfo_classic__cw_developer_guide": lambda sim: sim.call(
        "GET", f"/login/companyinfo/{sim.state.company_id}"
    ),
    "companyinfo_cloud__cw_developer_guide": _cloud_company_info,
    "callback_body__cw_developer_guide": _callback_body,
    "callback_signing_key__cw_developer_guide": _signing_key,
}


def load_shape(name: str) -> Any:
    return json.loads((SHAPES_DIR / f"{name}.json").read_text())


def missing_keys(expected: Any, actual: Any, where: str = "") -> list[str]:
    """Keys of `expected` absent from `actual`, recursing into objects and list items."""
    if isinstance(expected, list):
        assert isinstance(actual, list) and actual, f"{where or 'answer'} is not a list"
        return [m for item in expected for m in missing_keys(item, actual[0], f"{where}[]/")]
    if not isinstance(expected, dict):
        return []
    if not isinstance(actual, dict):
        return [where or "answer"]
    missing = []
    for key, value in expected.items():
        if key not in actual:
            missing.append(f"{where}{key}")
        elif isinstance(value, (dict, list)) and actual[key] is not None:
            missing += missing_keys(value, actual[key], f"{where}{key}/")
    return missing


def unknown_keys(model: type[BaseModel], data: dict[str, Any], where: str = "") -> list[str]:
    """Keys of `data` that are not fields (by alias) of `model`, nested models included."""
    fields = {field.alias or name: field for name, field in model.model_fields.items()}
    unknown = []
    for key, value in data.items():
        field = fields.get(key)
        if field is None:
            unknown.append(f"{where}{key}")
        elif isinstance(value, dict) and (nested := _model_in(field.annotation)) is not None:
            unknown += unknown_keys(nested, value, f"{where}{key}/")
    return unknown


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as `BoardReference | None`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return next(filter(None, map(_model_in, typing.get_args(annotation))), None)
    return None


def test_every_fixture_has_a_check():
    names = {path.stem for path in SHAPES_DIR.glob("*.json")}
    assert names == set(ANSWERS)
    assert {n for n in names if n.endswith("__pyconnectwise_model")} == set(MODELS)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_fixtures_use_only_the_models_fields(name: str):
    model = MODELS[name]
    shape = load_shape(name)
    for item in shape if isinstance(shape, list) else [shape]:
        assert unknown_keys(model, item) == []
        model.model_validate(item)  # and the example values fit the schema's types


@pytest.mark.parametrize("name", sorted(ANSWERS))
async def test_simulator_answers_have_the_real_keys(sim: Sim, name: str):
    answer = await ANSWERS[name](sim)
    assert missing_keys(load_shape(name), answer) == []
