"""The chat model, chosen by configuration, and its errors mapped at the seam.

Groq through ``langchain-groq`` (the official ``groq`` SDK underneath) and any OpenAI-compatible
endpoint (vLLM, Ollama, LM Studio, OpenAI itself) through ``langchain-openai``, each pointed by
base URL, which is also how tests reach the local fake server.
"""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from voice_server.errors import InvalidInput, ParleyError, RateLimited, ServiceUnavailable
from voice_server.settings import Settings


class ModelUnavailable(ServiceUnavailable):
    slug = "model-unavailable"
    title = "Language model unavailable"


def chat_model(settings: Settings) -> BaseChatModel | None:
    """The configured model, or None for the offline answerer."""
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    if settings.llm_provider == "groq":
        from langchain_groq import ChatGroq

        if not key:
            raise InvalidInput("PARLEY_LLM_PROVIDER=groq needs PARLEY_LLM_API_KEY")
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


def model_error(exc: BaseException) -> ParleyError:
    """A vendor SDK error (groq or openai, same shapes) as one of ours, with its category."""
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    if status == 401 or name == "AuthenticationError":
        return ModelUnavailable(
            "the language model provider refused the API key", reason="auth", retryable=False
        )
    if status == 429 or name == "RateLimitError":
        retry_after = 1
        response = getattr(exc, "response", None)
        if response is not None:
            value = response.headers.get("retry-after", "1")
            retry_after = int(float(value)) if value.replace(".", "", 1).isdigit() else 1
        return RateLimited("the language model is rate limited", retry_after_s=max(1, retry_after))
    if name in ("APITimeoutError", "TimeoutError", "ReadTimeout"):
        return ModelUnavailable(
            "the language model did not answer in time", reason="timeout", retryable=True
        )
    if name in ("APIConnectionError", "RemoteProtocolError", "ReadError"):
        return ModelUnavailable(
            "the connection to the language model broke off", reason="connection", retryable=True
        )
    if isinstance(status, int) and status >= 500:
        return ModelUnavailable(
            f"the language model failed (HTTP {status})", reason="server", retryable=True
        )
    if isinstance(status, int):
        return ModelUnavailable(
            f"the language model refused the request (HTTP {status})",
            reason="request",
            retryable=False,
        )
    return ModelUnavailable(f"the language model failed ({name})", reason="unknown")
