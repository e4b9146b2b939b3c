"""A small keep-alive HTTP/1.1 load generator on raw asyncio streams.

Each of ``concurrency`` connections sends the same prebuilt request in a closed loop for
``seconds`` and records every response's latency. No HTTP library sits in the measurement:
the client costs a few microseconds per request, so the server is what gets measured.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")


def build_request(path: str, body: bytes, port: int, headers: dict[str, str]) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(length)
    return status


async def _worker(
    port: int, request: bytes, deadline: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request)
            status = await _read_response(reader)
            latencies.append((time.perf_counter() - started) * 1000)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


async def _run(port: int, request: bytes, concurrency: int, seconds: float) -> Result:
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(_worker(port, request, deadline, latencies, errors) for _ in range(concurrency))
    )
    elapsed = time.perf_counter() - started
    return Result(len(latencies), len(errors), elapsed, latencies)


def run(port: int, request: bytes, concurrency: int, seconds: float) -> Result:
    """Closed-loop load: ``concurrency`` keep-alive connections for ``seconds``."""
    try:
        import uvloop

        return uvloop.run(_run(port, request, concurrency, seconds))
    except ImportError:
        return asyncio.run(_run(port, request, concurrency, seconds))


def main() -> None:
    """CLI: run in the served project's interpreter (uvloop there), print one JSON line."""
    import argparse
    import json
    from pathlib import Path

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/predict")
    parser.add_argument("--body-file", type=Path, required=True)
    parser.add_argument("--header", action="append", default=[], help="Name: value")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--warmup", type=float, default=1)
    args = parser.parse_args()
    headers = dict(h.split(": ", 1) for h in args.header)
    request = build_request(args.path, args.body_file.read_bytes(), args.port, headers)
    if args.warmup:
        run(args.port, request, args.concurrency, args.warmup)
    result = run(args.port, request, args.concurrency, args.seconds)
    print(
        json.dumps(
            {
                "requests": result.requests,
                "errors": result.errors,
                "seconds": result.seconds,
                "rps": result.rps,
                "p50_ms": result.p50,
                "p99_ms": result.percentile(99),
            }
        )
    )


if __name__ == "__main__":
    main()
