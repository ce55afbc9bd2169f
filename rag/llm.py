"""The chat model, chosen by configuration, and its errors mapped at the seam.

Groq through ``langchain-groq`` (the official ``groq`` SDK underneath) and any OpenAI-compatible
endpoint (vLLM, Ollama, LM Studio, OpenAI itself) through ``langchain-openai``, each pointed by
base URL, which is also how tests reach the local fake server.
"""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from voice_server.settings import Settings
from voice_server.vendors import (
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    VendorMisconfigured,
    retry_after,
)


def chat_model(settings: Settings) -> BaseChatModel | None:
    """The configured model, or None for the offline answerer."""
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    if settings.llm_provider == "groq":
        from langchain_groq import ChatGroq

        if not key:
            raise VendorMisconfigured("PARLEY_LLM_PROVIDER=groq needs PARLEY_LLM_API_KEY")
        return ChatGroq(
            model=settings.llm_model,
            api_key=SecretStr(key),
            base_url=settings.llm_base_url,
            temperature=settings.llm_temperature,
            timeout=settings.llm_timeout_s,
            max_retries=1,
            streaming=True,
        )
    if settings.llm_provider == "openai":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            model=settings.llm_model,
            api_key=SecretStr(key or "not-needed"),
            base_url=settings.llm_base_url,
            temperature=settings.llm_temperature,
            timeout=settings.llm_timeout_s,
            max_retries=1,
            streaming=True,
            stream_usage=True,
        )
    return None


def model_error(exc: BaseException, provider: str = "llm") -> ProviderError:
    """A vendor SDK error (groq or openai, same shapes) as one of the vendor tree that speech
    uses too (voice_server.vendors), so the voice engine retries a transient one."""
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    if status in (401, 403) or name in ("AuthenticationError", "PermissionDeniedError"):
        return ProviderAuthError(provider, "the language model provider refused the API key")
    if status == 429 or name == "RateLimitError":
        response = getattr(exc, "response", None)
        headers = dict(response.headers) if response is not None else {}
        return ProviderRateLimited(
            provider, "the language model is rate limited", retry_after(headers) or 1.0
        )
    if name in ("APITimeoutError", "TimeoutError", "ReadTimeout"):
        return ProviderTimeout(provider, "the language model did not answer in time")
    if name in ("APIConnectionError", "RemoteProtocolError", "ReadError"):
        return ProviderUnavailable(provider, "the connection to the language model broke off")
    if isinstance(status, int) and status >= 500:
        return ProviderUnavailable(provider, f"the language model failed (HTTP {status})")
    if isinstance(status, int):
        return ProviderBadRequest(
            provider, f"the language model refused the request (HTTP {status})"
        )
    return ProviderError(provider, f"the language model failed ({name})")
