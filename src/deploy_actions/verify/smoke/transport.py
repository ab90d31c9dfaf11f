"""Sending one smoke request and reading its answer: requests for HTTP and HTTPS (a CA bundle,
or `insecure` only when asked), and HTTP over unix sockets through a small adapter.

Why our own unix-socket adapter rather than PyPI `requests-unixsocket`: its last release
(0.4.1, March 2025) reaches into urllib3's private `_collections`, it broke for months when
requests 2.32 moved connection lookup to `get_connection_with_tls_context`, a fork
(`requests-unixsocket2`) installs under the same import name, neither is typed, and both keep
one pool per URL rather than per socket. What we need is ~40 lines over public hooks:
`HTTPAdapter.get_connection_with_tls_context`/`request_url` and urllib3's `ConnectionCls`.

Nothing here decides pass or fail: a request ends as a `Response` or a `TransportFailure`
that says, in words, what happened. requests is imported when a `Transport` is made, so
`deploy-actions --help` never pays for it.
"""

from __future__ import annotations

import socket
import threading
import time
import warnings
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from deploy_actions.verify.smoke.checks import Request, Response, TransportFailure

if TYPE_CHECKING:
    import requests

MAX_BODY = 2 * 1024 * 1024  # a health answer is small; more than this is read no further
CHUNK = 64 * 1024


def _unix_adapter_class() -> type[Any]:
    """Build the adapter classes on first use (they subclass requests' and urllib3's)."""
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection
    from urllib3.connectionpool import HTTPConnectionPool

    class UnixConnection(HTTPConnection):
        def __init__(self, *args: Any, socket_path: str, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.socket_path = socket_path

        def connect(self) -> None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            timeout = self.timeout
            sock.settimeout(timeout if isinstance(timeout, (int, float)) else None)
            try:
                sock.connect(self.socket_path)
            except BaseException:
                sock.close()
                raise
            self.sock = sock

    class UnixConnectionPool(HTTPConnectionPool):
        ConnectionCls = UnixConnection

    class UnixSocketAdapter(HTTPAdapter):
        """Serves `http+unix://<percent-encoded socket path>/path`; one pool per socket."""

        def __init__(self, pool_maxsize: int = 10) -> None:
            super().__init__(pool_maxsize=pool_maxsize)
            self._unix_pools: dict[str, UnixConnectionPool] = {}
            self._unix_lock = threading.Lock()
            self._unix_pool_maxsize = pool_maxsize

        def get_connection_with_tls_context(self, request: Any, verify: Any, proxies: Any = None,
                                            cert: Any = None) -> UnixConnectionPool:
            socket_path = unquote(urlsplit(request.url).netloc)
            with self._unix_lock:
                pool = self._unix_pools.get(socket_path)
                if pool is None:
                    # Proxies never apply to a local socket; the Host header reads "localhost", as curl's does.
                    pool = UnixConnectionPool("localhost", maxsize=self._unix_pool_maxsize,
                                              socket_path=socket_path)
                    self._unix_pools[socket_path] = pool
            return pool

        def request_url(self, request: Any, proxies: Any) -> str:
            return str(request.path_url)

        def close(self) -> None:
            super().close()
            with self._unix_lock:
                for pool in self._unix_pools.values():
                    pool.close()
                self._unix_pools.clear()

    return UnixSocketAdapter


class Transport:
    """Sends requests from any number of threads (one requests session per thread)."""

    def __init__(self, *, verify: bool | str = True, pool_size: int = 10, max_body: int = MAX_BODY) -> None:
        import requests

        self._requests = requests
        self._verify = verify
        self._pool_size = max(pool_size, 1)
        self._max_body = max_body
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()
        self._adapter_class = _unix_adapter_class()
        if verify is False:
            # We say once, as an annotation, that TLS is not verified; a warning per request is noise.
            from urllib3.exceptions import InsecureRequestWarning

            warnings.simplefilter("ignore", InsecureRequestWarning)

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._requests.Session()
            session.mount("http+unix://", self._adapter_class(pool_maxsize=self._pool_size))
            session.headers["User-Agent"] = "deploy-actions-smoke-test"
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, request: Request, timeout: float) -> Response | TransportFailure:
        """One attempt, bounded by `timeout` seconds for connecting and for each read."""
        req = self._requests
        started = time.monotonic()

        def elapsed_ms() -> float:
            return (time.monotonic() - started) * 1000

        timeout = max(timeout, 0.001)
        try:
            with self._session().request(
                request.method, request.target.url, headers=dict(request.headers), data=request.body,
                timeout=(timeout, timeout), stream=True, verify=self._verify,
                allow_redirects=request.follow_redirects,
            ) as resp:
                chunks: list[bytes] = []
                size = 0
                truncated = False
                for chunk in resp.iter_content(CHUNK):
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > self._max_body:
                        truncated = True
                        break
                    if time.monotonic() - started > timeout:
                        return TransportFailure("timeout", f"the response was not complete within {timeout:.3g} s",
                                                elapsed_ms())
                body = b"".join(chunks)[: self._max_body]
                headers = tuple((k.lower(), v) for k, v in resp.headers.items())
                return Response(resp.status_code, body, elapsed_ms(), str(resp.reason or ""), headers, truncated)
        except req.exceptions.SSLError as exc:
            return TransportFailure("tls", f"TLS: {_tls_reason(exc)}", elapsed_ms())
        except req.exceptions.ConnectTimeout:
            return TransportFailure("timeout", f"could not connect within {timeout:.3g} s", elapsed_ms())
        except req.exceptions.ReadTimeout:
            return TransportFailure("timeout", f"no response within {timeout:.3g} s", elapsed_ms())
        except (req.exceptions.InvalidURL, req.exceptions.InvalidHeader, req.exceptions.InvalidSchema,
                req.exceptions.MissingSchema) as exc:
            return TransportFailure("invalid", f"the request cannot be sent: {_first_line(exc)}", elapsed_ms())
        except (req.exceptions.ConnectionError, req.exceptions.ChunkedEncodingError,
                req.exceptions.ContentDecodingError) as exc:
            return _connection_failure(exc, request, elapsed_ms())
        except req.exceptions.RequestException as exc:
            return TransportFailure("other", _first_line(exc), elapsed_ms())
        except (OSError, ValueError) as exc:  # e.g. a socket path that is too long for AF_UNIX
            return TransportFailure("other", f"{type(exc).__name__}: {_first_line(exc)}", elapsed_ms())


def _causes(exc: BaseException) -> list[BaseException]:
    """The chain behind a requests exception: causes, contexts, urllib3's `reason` and args."""
    found: list[BaseException] = []
    todo: list[object] = [exc]
    while todo and len(found) < 20:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or any(item is f for f in found):
            continue
        found.append(item)
        todo += [item.__cause__, item.__context__, getattr(item, "reason", None), *item.args]
    return found


def _connection_failure(exc: BaseException, request: Request, latency: float) -> TransportFailure:
    chain = _causes(exc)
    names = {type(e).__name__ for e in chain}
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return TransportFailure("refused", "connection refused", latency)
    if any(isinstance(e, FileNotFoundError) for e in chain):
        return TransportFailure("no-socket", f"socket {request.target.socket_path} does not exist", latency)
    if any(isinstance(e, socket.gaierror) for e in chain) or "NameResolutionError" in names:
        host = urlsplit(request.target.url).hostname or "the host"
        return TransportFailure("dns", f"cannot resolve {host}", latency)
    if any(isinstance(e, (ConnectionResetError, BrokenPipeError)) for e in chain) or \
            names & {"RemoteDisconnected", "ProtocolError", "ChunkedEncodingError", "IncompleteRead"}:
        return TransportFailure("reset", "the connection closed without a complete response", latency)
    if any(isinstance(e, (TimeoutError, socket.timeout)) for e in chain):
        return TransportFailure("timeout", "timed out", latency)
    return TransportFailure("other", _first_line(exc), latency)


def _tls_reason(exc: BaseException) -> str:
    for cause in _causes(exc):
        reason = getattr(cause, "verify_message", None) or getattr(cause, "reason", None)
        if type(cause).__name__ == "SSLCertVerificationError":
            return f"certificate verify failed: {reason or cause}"
    return _first_line(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."
