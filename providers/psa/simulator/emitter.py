"""Sends ConnectWise-shaped, signed callbacks to the registered callback URLs."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

import aiohttp

from providers.psa.connectwise.callbacks import SIGNATURE_HEADER, compute_signature
from providers.psa.simulator.registrations import matching_callbacks
from providers.psa.simulator.state import Delivery, SimulatorState

log = logging.getLogger(__name__)

# ConnectWise waits about 5 s for an answer.
_DELIVERY_TIMEOUT = aiohttp.ClientTimeout(total=5)
PRODUCT_INSTANCE_ID = "3f0c2a8e-5b7d-4e19-a6c4-8d2f1b0e9a77"


class CallbackEmitter:
    def __init__(self, state: SimulatorState, session: aiohttp.ClientSession):
        self._state = state
        self._session = session
        self._tasks: set[asyncio.Task[None]] = set()

    def emit(self, action: str, ticket: dict[str, Any]) -> None:
        """Start one delivery per matching callback. The body is built now, so later
        changes to the ticket don't leak into this event."""
        targets = matching_callbacks(self._state.callbacks.values(), ticket)
        if not targets:
            return
        raw = self._body(action, ticket)
        signature = compute_signature(raw, self._state.signing_key)
        for callback in targets:
            url = f"{callback['url']}{ticket['id']}"  # ConnectWise appends the record id
            task = asyncio.get_running_loop().create_task(
                self._deliver(url, raw, signature, action, ticket["id"])
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _body(self, action: str, ticket: dict[str, Any]) -> bytes:
        state = self._state
        body = {
            "MessageId": str(uuid.uuid4()),
            "FromUrl": state.site_host,  # a bare host, as ConnectWise sends it
            "CompanyId": state.company_id,
            "MemberId": ticket["_info"].get("updatedBy"),
            "Action": action,
            "Type": "ticket",
            "ID": ticket["id"],
            "ProductInstanceId": PRODUCT_INSTANCE_ID,
            "PartnerId": None,
            # The record travels as a JSON string inside the JSON body, as ConnectWise does.
            "Entity": None if action == "deleted" else json.dumps(ticket),
            "Metadata": {"key_url": state.key_url()},
        }
        return json.dumps(body).encode("utf-8")

    async def _deliver(
        self, url: str, raw: bytes, signature: str, action: str, record_id: int
    ) -> None:
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature}
        try:
            async with self._session.post(
                url, data=raw, headers=headers, timeout=_DELIVERY_TIMEOUT
            ) as resp:
                await resp.read()
                delivery = Delivery(url, action, record_id, resp.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("simulator callback delivery failed: %s %s", url, exc)
            delivery = Delivery(url, action, record_id, None, str(exc) or type(exc).__name__)
        self._state.deliveries.append(delivery)
