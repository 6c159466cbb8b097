"""LLM providers: the interface, the Anthropic and offline implementations, and a registry."""

from __future__ import annotations

from typing import Any, Protocol

from providers.llm.base import (
    CallObserver,
    CallRecord,
    LLMBadResponse,
    LLMError,
    LLMProvider,
    LLMRequest,
    LLMResult,
    LLMUnavailable,
    Role,
    Usage,
)
from providers.llm.offline import OfflineProvider

__all__ = [
    "LLM_PROVIDERS",
    "CallObserver",
    "CallRecord",
    "LLMBadResponse",
    "LLMError",
    "LLMProvider",
    "LLMProviderFactory",
    "LLMRequest",
    "LLMResult",
    "LLMUnavailable",
    "OfflineProvider",
    "Role",
    "Usage",
    "build_llm_provider",
    "register_llm_provider",
]


class LLMProviderFactory(Protocol):
    def __call__(
        self,
        *,
        api_key: str | None,
        model: str,
        base_url: str | None,
        timeout: float,
        observer: CallObserver | None,
        **retry: Any,
    ) -> LLMProvider: ...


def _anthropic(
    *,
    api_key: str | None,
    model: str,
    base_url: str | None,
    timeout: float,
    observer: CallObserver | None,
    **retry: Any,
) -> LLMProvider:
    if not api_key:
        raise ValueError("the anthropic provider needs an API key")
    # Imported when used: the SDK takes a second to import, which every CLI command and
    # every offline install would otherwise pay.
    from providers.llm.anthropic import AnthropicProvider

    return AnthropicProvider(
        api_key, model=model, base_url=base_url, timeout=timeout, observer=observer, **retry
    )


def _offline(
    *,
    api_key: str | None,
    model: str,
    base_url: str | None,
    timeout: float,
    observer: CallObserver | None,
    **_retry: Any,
) -> LLMProvider:
    return OfflineProvider(observer=observer)


LLM_PROVIDERS: dict[str, LLMProviderFactory] = {"anthropic": _anthropic, "offline": _offline}


def register_llm_provider(name: str, factory: LLMProviderFactory) -> None:
    """Make another vendor's provider available under `name` (replaces an existing one)."""
    LLM_PROVIDERS[name] = factory


def build_llm_provider(
    *,
    api_key: str | None,
    model: str,
    base_url: str | None,
    timeout: float,
    observer: CallObserver | None,
    **retry: Any,
) -> LLMProvider:
    """The Anthropic provider when an API key is configured, else the offline one.

    `retry` (max_attempts, retry_backoff, max_total_seconds, max_retry_wait) tunes the
    remote providers' one retry policy."""
    name = "anthropic" if api_key else "offline"
    return LLM_PROVIDERS[name](
        api_key=api_key,
        model=model,
        base_url=base_url,
        timeout=timeout,
        observer=observer,
        **retry,
    )
