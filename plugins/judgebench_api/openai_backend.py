"""`openai` backend: any OpenAI-compatible chat endpoint (OpenAI, Together, vLLM, `judgebench serve`) via AsyncOpenAI."""
from __future__ import annotations

import functools
from typing import Any

from judgebench import MissingExtra

from .base import ATTEMPTS, ApiBackend
from .retrying import Attempts

NO_KEY = "no-key"  # sent as the bearer token to a keyless local server (vLLM, judgebench serve without --token)


@functools.lru_cache(maxsize=None)
def _lean(base: Any) -> Any:
    """``base`` (an httpx.AsyncClient class) with a shorter :meth:`send` for the SDK's requests.

    httpx's ``send`` wraps the transport in auth-flow, redirect and event-hook machinery that an API client with a
    bearer header never uses, and at 64 requests in flight that CPU sits on the one event-loop thread (≈ 10 % of
    the client's CPU per request, measured with benchmarks/api_concurrency.py).  This ``send`` counts the
    attempt, hands the request to the transport httpx would pick for its URL (proxies included), keeps cookies a
    server sets, and reads the body; anything unusual (a redirect, an auth flow, event hooks, a closed client,
    an httpx without the expected internals) goes through httpx's own ``send`` unchanged.
    """
    import datetime
    import time

    import httpx

    class LeanClient(base):  # type: ignore[misc, valid-type]
        async def send(self, request: Any, *, stream: bool = False, auth: Any = httpx.USE_CLIENT_DEFAULT,
                       follow_redirects: Any = httpx.USE_CLIENT_DEFAULT) -> Any:
            pick = getattr(self, "_transport_for_url", None)
            hooks = self.event_hooks
            if (auth is not httpx.USE_CLIENT_DEFAULT or self.auth is not None or pick is None or self.is_closed
                    or hooks["request"] or hooks["response"]):
                _count_attempt()
                return await super().send(request, stream=stream, auth=auth, follow_redirects=follow_redirects)
            _count_attempt()
            if "timeout" not in request.extensions:
                request.extensions = {**request.extensions, "timeout": self.timeout.as_dict()}
            t0 = time.perf_counter()
            response = await pick(request.url).handle_async_request(request)
            response.request = request
            if "set-cookie" in response.headers:
                self.cookies.extract_cookies(response)
            try:
                follow = self.follow_redirects if follow_redirects is httpx.USE_CLIENT_DEFAULT else follow_redirects
                redirect = getattr(self, "_build_redirect_request", None)
                if response.has_redirect_location and follow and redirect is not None:
                    # rare for an API: httpx builds the next request its way and follows from there (never a
                    # second POST to the first URL)
                    nxt = redirect(request, response)
                    await response.aclose()
                    return await super().send(nxt, stream=stream, auth=auth, follow_redirects=follow_redirects)
                if not stream:
                    await response.aread()
                    response.elapsed = datetime.timedelta(seconds=time.perf_counter() - t0)
                return response
            except BaseException:
                await response.aclose()
                raise

    LeanClient.__name__ = LeanClient.__qualname__ = f"Lean{base.__name__.lstrip('_')}"
    return LeanClient


def _count_attempt() -> None:
    a = ATTEMPTS.get()
    if a is not None:
        a.n += 1


def _http_client_class() -> Any:
    """The SDK's aiohttp transport when ``httpx-aiohttp`` is installed (the ``[api]`` extra pulls it: httpx's
    connection pool costs O(pool²) per request, which caps a 64-way client at a few hundred requests/s),
    else its default httpx client."""
    import openai

    try:
        import httpx_aiohttp  # noqa: F401
    except ImportError:
        return _lean(openai.DefaultAsyncHttpxClient)
    return _lean(openai.DefaultAioHttpClient)


@functools.lru_cache(maxsize=8)
def _ssl_context(cert_file: str | None, cert_dir: str | None) -> Any:
    """One TLS context per process (per SSL_CERT_FILE / SSL_CERT_DIR), shared by every client it makes.

    httpx builds a fresh one for each client, loading the CA bundle each time (≈ 20 ms, on the event-loop thread
    before the first request leaves); aiohttp likewise keeps one per process.  Built by httpx's own
    ``create_ssl_context``, so the environment variables it honours still apply."""
    import httpx

    return httpx.create_ssl_context()


def _shared_ssl_context() -> Any:
    import os

    return _ssl_context(os.environ.get("SSL_CERT_FILE") or None, os.environ.get("SSL_CERT_DIR") or None)


class OpenAIBackend(ApiBackend):
    """``--backend openai:MODEL [-o base_url=URL] [-o concurrency=N] …`` (options: see ApiOptions).

    Every failure worth another try (429 honouring Retry-After, 408/409, 5xx, timeouts, connection errors,
    malformed bodies) is retried by our tenacity policy, not by the SDK (``max_retries=0`` there), so that each
    attempt passes the rate limits and each answer's status and ``x-ratelimit-*`` headers reach them; one budget
    of ``max_retries`` per request; every HTTP attempt is counted in the HTTP client's ``send``.
    """

    plugin = "openai"

    @classmethod
    def endpoint(cls, model: str | None, options: dict[str, Any]) -> dict[str, Any]:
        from .endpoint import openai_endpoint
        from .options import ApiOptions

        return openai_endpoint(ApiOptions.parse(cls.plugin, options, **cls.option_defaults))
    observes_headers = True
    supports_batch = True

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

        n = max(self.opts.concurrency, self.opts.max_concurrency) if self.opts.adaptive else self.opts.concurrency
        http = _http_client_class()(limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
                                    verify=_shared_ssl_context())
        o = self.opts
        return openai.AsyncOpenAI(api_key=self.key.key or NO_KEY, base_url=o.base_url, organization=o.organization,
                                  project=o.project, default_headers=o.headers,
                                  default_query={"api-version": o.api_version} if o.api_version else None,
                                  timeout=o.timeout, max_retries=0, http_client=http)

    async def _call(self, kwargs: dict[str, Any], extra_body: dict[str, Any], attempts: Attempts) -> Any:
        import httpx
        import openai

        from .retrying import retry_after_s

        if self._client is None:  # created on the loop thread, where it is used
            self._client = self._make_client()
        client = self._client
        # the SDK's low-level post(): its auth, base_url, timeouts and retries (Retry-After included), without the
        # typed-parameter transform and response-model construction that cost ~1/3 of the client's CPU per request;
        # the body is validated by parse_response (and a non-JSON body raises ValueError → retried as malformed)
        try:
            resp = await client.post("/chat/completions", cast_to=httpx.Response,
                                     body={"model": self.model, **kwargs, **extra_body})
        except openai.APIStatusError as e:
            self.rate.observe(e.status_code, e.response.headers, retry_after_s(e))
            raise
        self.rate.observe(resp.status_code, resp.headers)
        return resp.json()

    async def _aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
