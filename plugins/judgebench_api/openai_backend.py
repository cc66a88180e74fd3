"""`openai` backend: any OpenAI-compatible chat endpoint (OpenAI, Together, vLLM, `judgebench serve`) via AsyncOpenAI."""
from __future__ import annotations

from typing import Any

from judgebench.errors import MissingExtra

from .base import ATTEMPTS, ApiBackend
from .retrying import Attempts

NO_KEY = "no-key"  # sent as the bearer token to a keyless local server (vLLM, judgebench serve without --token)


def _http_client_class() -> Any:
    """The SDK's aiohttp transport when ``httpx-aiohttp`` is installed (the ``[api]`` extra pulls it: httpx's
    connection pool costs O(pool²) per request, which caps a 64-way client at a few hundred requests/s),
    else its default httpx client."""
    import openai

    try:
        import httpx_aiohttp  # noqa: F401
    except ImportError:
        return openai.DefaultAsyncHttpxClient
    return openai.DefaultAioHttpClient


class OpenAIBackend(ApiBackend):
    """``--backend openai:MODEL [-o base_url=URL] [-o concurrency=N] …`` (options: see ApiOptions).

    Transport failures (429 honouring Retry-After, 408/409, 5xx, timeouts, connection errors) are retried by the
    SDK itself (``max_retries``); malformed bodies by tenacity; both draw on one budget of ``max_retries``
    per request, and every HTTP attempt is counted through the HTTP client's request hook.
    """

    plugin = "openai"
    sdk_retries_transport = True

    def _import_sdk(self) -> None:
        try:
            import httpx  # noqa: F401
            import openai  # noqa: F401
        except ImportError as e:
            raise MissingExtra("backend 'openai'", "api", e) from None
        self._client: Any = None

    def sdk_version(self) -> str:
        import openai

        return f"openai {openai.__version__} ({_http_client_class().__name__})"

    def _make_client(self) -> Any:
        import httpx
        import openai

        async def count_attempt(_request: Any) -> None:
            a = ATTEMPTS.get()
            if a is not None:
                a.n += 1

        n = self.opts.concurrency
        http = _http_client_class()(
            limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
            event_hooks={"request": [count_attempt]})
        return openai.AsyncOpenAI(api_key=self.key.key or NO_KEY, base_url=self.opts.base_url,
                                  timeout=self.opts.timeout, max_retries=self.opts.max_retries, http_client=http)

    async def _call(self, kwargs: dict[str, Any], extra_body: dict[str, Any], attempts: Attempts) -> Any:
        import httpx

        if self._client is None:  # created on the loop thread, where it is used
            self._client = self._make_client()
        left = max(0, self.opts.max_retries - attempts.n)
        client = self._client if left == self.opts.max_retries else self._client.with_options(max_retries=left)
        # the SDK's low-level post(): its auth, base_url, timeouts and retries (Retry-After included), without the
        # typed-parameter transform and response-model construction that cost ~1/3 of the client's CPU per request;
        # the body is validated by parse_response (and a non-JSON body raises ValueError → retried as malformed)
        resp = await client.post("/chat/completions", cast_to=httpx.Response,
                                 body={"model": self.model, **kwargs, **extra_body})
        return resp.json()

    async def _aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
