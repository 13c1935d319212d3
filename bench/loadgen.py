"""A small, bounded HTTP/1.1 load generator, run in its own process by bench/run.py.

Why our own and not wrk or hey: the benchmark must send a *different* body to
each one-step issue request (the sandbox allows 30 valid tokens per channel, so
requests rotate over many channels), check the body of every answer (a proxied
LINE error comes back inside a 200 envelope), and run a fixed number of
requests. hey sends one body, wrk is time-bounded and needs Lua for both.

To stay cheap next to the server on a small machine it is one thread, one
``selectors`` loop, keep-alive connections and requests serialised up front:
per request it does one ``send`` and one or two ``recv`` calls and a header
scan. bench/run.py reports the CPU it used per request next to the server's,
so its share of the machine is in the table, not hidden.

Input (stdin, JSON): {"host", "port", "concurrency", "count", "requests":
[{"raw": "<latin-1 HTTP request>", "status": 200, "expect": "<substring>"}],
"unique": bool}. Request i uses requests[i % len(requests)]; with "unique"
every request is used at most once. Output (stdout, JSON): latencies in
seconds, error count and first error samples, wall time and own CPU time.
"""
from __future__ import annotations

import json
import os
import selectors
import socket
import sys
import time

RECV = 256 * 1024


class Conn:
    __slots__ = ("sock", "buf", "started", "index", "head_end", "length", "status", "chunked", "close")

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.reset()

    def reset(self) -> None:
        self.buf = b""
        self.head_end = -1
        self.length = -1
        self.status = 0
        self.chunked = False
        self.close = False


def connect(host: str, port: int) -> socket.socket:
    # Blocking with a timeout: we only recv() when the selector says data is there,
    # and sendall() of a few kB never waits on loopback.
    sock = socket.create_connection((host, port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def parse_head(conn: Conn) -> None:
    """Find status and body framing once the header block is complete."""
    end = conn.buf.find(b"\r\n\r\n")
    if end < 0:
        return
    conn.head_end = end + 4
    head = conn.buf[:end].decode("latin-1")
    lines = head.split("\r\n")
    conn.status = int(lines[0].split(" ", 2)[1])
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            conn.length = int(value.strip())
        elif name == "transfer-encoding" and "chunked" in value.lower():
            conn.chunked = True
        elif name == "connection" and value.strip().lower() == "close":
            conn.close = True  # e.g. gunicorn's sync workers: no keep-alive
    if conn.length < 0 and not conn.chunked:
        conn.length = 0


def chunked_body(data: bytes) -> bytes | None:
    """The decoded body if ``data`` holds a complete chunked body, else None."""
    out, pos = [], 0
    while True:
        line_end = data.find(b"\r\n", pos)
        if line_end < 0:
            return None
        size = int(data[pos:line_end].split(b";")[0], 16)
        start = line_end + 2
        if size == 0:
            return b"".join(out) if data.find(b"\r\n", start) >= 0 else None
        if len(data) < start + size + 2:
            return None
        out.append(data[start:start + size])
        pos = start + size + 2


def complete_body(conn: Conn) -> bytes | None:
    body = conn.buf[conn.head_end:]
    if conn.chunked:
        return chunked_body(body)
    return body if len(body) >= conn.length else None


def run(spec: dict) -> dict:
    host, port = spec["host"], spec["port"]
    count, concurrency = spec["count"], spec["concurrency"]
    templates = [(r["raw"].encode("latin-1"), r.get("status", 200), r.get("expect", "").encode())
                 for r in spec["requests"]]
    if spec.get("unique") and count > len(templates):
        raise SystemExit(f"loadgen: {count} requests asked but only {len(templates)} unique ones given")
    cpu0, wall0 = os.times(), time.perf_counter()
    sel = selectors.DefaultSelector()
    latencies: list[float] = []
    errors: list[str] = []
    error_count = 0
    issued = 0
    done = 0

    def send_next(conn: Conn) -> bool:
        nonlocal issued
        if issued >= count:
            return False
        conn.index = issued % len(templates)
        issued += 1
        conn.reset()
        conn.started = time.perf_counter()
        try:
            conn.sock.sendall(templates[conn.index][0])
        except OSError:  # the server closed this keep-alive connection: reopen once
            conn.sock.close()
            conn.sock = connect(host, port)
            conn.sock.sendall(templates[conn.index][0])
        return True

    conns = []
    for _ in range(min(concurrency, count)):
        conn = Conn(connect(host, port))
        conns.append(conn)
        if send_next(conn):
            sel.register(conn.sock, selectors.EVENT_READ, conn)

    while done < count:
        events = sel.select(timeout=30)
        if not events:
            error_count += count - done
            errors.append(f"timeout: {count - done} requests unanswered after 30 s")
            break
        for key, _ in events:
            conn: Conn = key.data
            try:
                data = conn.sock.recv(RECV)
            except OSError:
                data = b""
            if not data:  # server closed the connection
                sel.unregister(conn.sock)
                conn.sock.close()
                # Registered connections always have a request in flight.
                error_count += 1
                errors.append("connection closed before a full answer")
                done += 1
                conn.sock = connect(host, port)
                if send_next(conn):
                    sel.register(conn.sock, selectors.EVENT_READ, conn)
                continue
            conn.buf += data
            if conn.head_end < 0:
                parse_head(conn)
                if conn.head_end < 0:
                    continue
            body = complete_body(conn)
            if body is None:
                continue
            latencies.append(time.perf_counter() - conn.started)
            done += 1
            _, status, expect = templates[conn.index]
            if conn.status != status or (expect and expect not in body):
                error_count += 1
                if len(errors) < 3:
                    errors.append(f"HTTP {conn.status}: {body[:200].decode('utf-8', 'replace')}")
            if conn.close:
                sel.unregister(conn.sock)
                conn.sock.close()
                conn.sock = connect(host, port)
                sel.register(conn.sock, selectors.EVENT_READ, conn)
            if not send_next(conn):
                sel.unregister(conn.sock)
    wall = time.perf_counter() - wall0
    cpu1 = os.times()
    for conn in conns:
        conn.sock.close()
    return {
        "latencies": latencies,
        "errors": error_count,
        "error_samples": errors[:3],
        "wall": wall,
        "cpu": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
    }


if __name__ == "__main__":
    json.dump(run(json.load(sys.stdin)), sys.stdout)
