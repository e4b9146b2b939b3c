"""One pure-ASGI layer for every request: request id, body size limit, timeout, metrics.

Pure ASGI (no ``BaseHTTPMiddleware``) because it sits on the hot path of every prediction.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_body
from .logs import REQUEST_ID
from .metrics import Metrics
from .service import InFlight

_VALID_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,64}$")


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"body: larger than the limit of {limit} bytes")


class ServingMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        routes: set[str],
        max_body: int,
        timeout_s: float,
        inflight: InFlight | None = None,
    ) -> None:
        self.app = app
        self.inflight = inflight or InFlight()
        self.metrics = metrics
        self.routes = routes
        self.max_body = max_body
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = None
        length = None
        for name, value in scope["headers"]:
            if name == b"x-request-id" and _VALID_ID.match(value):
                request_id = value.decode()
            elif name == b"content-length":
                length = value
        request_id = request_id or uuid.uuid4().hex
        scope.setdefault("state", {}).update(request_id=request_id, started=started)
        token = REQUEST_ID.set(request_id)
        self.inflight.n += 1
        status = 500
        response_started = False
        id_header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge(self.max_body)
            return message

        try:
            if length is not None and (not length.isdigit() or int(length) > self.max_body):
                await self._error(send_with_id, 413, f"body: larger than {self.max_body} bytes")
                return
            async with asyncio.timeout(self.timeout_s):
                await self.app(scope, receive_limited, send_with_id)
        except TimeoutError:
            if not response_started:
                await self._error(send_with_id, 504, f"request took over {self.timeout_s} s")
        finally:
            self.inflight.n -= 1
            path = scope["path"]
            route = path if path in self.routes else "other"
            self.metrics.observe(route, status, time.perf_counter() - started)
            REQUEST_ID.reset(token)

    @staticmethod
    async def _error(send: Any, status: int, message: str) -> None:
        body = error_body(status, message)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
