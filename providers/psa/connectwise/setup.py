"""ConnectWise set-up calls for `fixpilot connectwise install` and `doctor`: callbacks,
hosted screens and pods, the site's company info and per-endpoint access probes."""

from __future__ import annotations

from typing import Any

from providers.psa.base import PSAValidationError
from providers.psa.connectwise.client import ConnectWiseClient
from providers.psa.connectwise.config import ConnectWiseConfig


class ConnectWiseSetup:
    def __init__(self, config: ConnectWiseConfig, client: ConnectWiseClient) -> None:
        self._config = config
        self._client = client
        self.company_id = config.company_id
        self.api_url = config.api_url
        self.client_id = config.client_id

    async def company_info(self) -> dict[str, Any]:
        """`GET {site}/login/companyinfo/{companyId}`: the site's codebase and version."""
        url = f"{self._config.site_url}/login/companyinfo/{self._config.company_id}"
        response = await self._client.request("GET", url)
        return response.data if isinstance(response.data, dict) else {}

    async def probe(self, path: str) -> Any:
        return (await self._client.request("GET", path, params={"pageSize": 1})).data

    async def list_callbacks(self) -> list[dict[str, Any]]:
        return await self._client.paginate("system/callbacks")

    async def create_callback(
        self, url: str, type: str, level: str, object_id: int, description: str
    ) -> dict[str, Any]:
        """Register a callback; an identical registration that already exists is returned."""
        body = {
            "url": url,
            "type": type,
            "level": level,
            "objectId": int(object_id),
            "description": description,
            "inactiveFlag": False,
        }
        try:
            response = await self._client.request("POST", "system/callbacks", json_body=body)
        except PSAValidationError as exc:
            if exc.code != "ObjectExists":
                raise
            existing = _matching_callback(await self.list_callbacks(), body)
            if existing is None:
                raise
            return existing
        return response.data

    async def update_callback(self, callback_id: int, *, inactive: bool = False) -> dict[str, Any]:
        patch = [{"op": "replace", "path": "inactiveFlag", "value": bool(inactive)}]
        response = await self._client.request(
            "PATCH", f"system/callbacks/{int(callback_id)}", json_body=patch
        )
        return response.data

    async def list_hosted_screens(self) -> list[dict[str, Any]]:
        """`GET system/connectWiseHostedScreens`: the screens a pod can be put on, each
        `{"id", "name", "screenId"}` (ids differ between sites: look them up)."""
        return await self._client.paginate("system/connectWiseHostedScreens")

    async def list_hosted_setups(self) -> list[dict[str, Any]]:
        return await self._client.paginate("system/connectwisehostedsetups")

    async def create_hosted_setup(
        self,
        *,
        description: str,
        screen_id: int,
        url: str,
        origin: str,
        type: str = "Pod",
        pod_height: int | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "description": description,
            "screenId": int(screen_id),
            "url": url,
            "origin": origin,
            "type": type,
            # The integration the pod belongs to (ConnectWise requires it unless already set).
            "clientId": self._config.client_id,
            **({"podHeight": int(pod_height)} if pod_height is not None else {}),
        }
        response = await self._client.request(
            "POST", "system/connectwisehostedsetups", json_body=body
        )
        return response.data


def _matching_callback(callbacks: list[dict[str, Any]], wanted: dict[str, Any]) -> dict | None:
    def key(cb: dict[str, Any]) -> tuple[str, str, str, int | None]:
        object_id = cb.get("objectId")
        return (
            str(cb.get("url") or ""),
            str(cb.get("type") or "").lower(),
            str(cb.get("level") or "").lower(),
            int(object_id) if object_id is not None else None,
        )

    return next((cb for cb in callbacks if key(cb) == key(wanted)), None)
