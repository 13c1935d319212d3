"""Connections a stranger opens and never finishes, against the Procfile's gunicorn (issue 23, item 1).

Every connection has a deadline to send its request head (GUNICORN_HEAD_TIMEOUT) and its body
(GUNICORN_BODY_TIMEOUT); a gevent worker holds GUNICORN_WORKER_CONNECTIONS of them, a few KiB each. Before,
2 workers x 200 connections sending nothing (or a byte every few seconds) made GET / time out for everyone.

The sockets of the load test are held by one selector loop in the test process (a file descriptor and a few
hundred bytes each), on loopback, for a bounded time; the loop stops by itself.
"""
from __future__ import annotations

import errno
import os
import resource
import selectors
import socket
import statistics
import threading
import time

import pytest
import requests

from conftest import BUSY_MACHINE_SLACK
from test_load import children, rss_kb

pytestmark = pytest.mark.server

HEAD_PREFIX = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "  # then a byte at a time, never the blank line
BODY_PREFIX = (b"POST /oauth2/v2.1/keys HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               b"Content-Length: 100000\r\n\r\n{")  # then a byte at a time, never the 100,000th
PREFIX = {"idle": b"", "head": HEAD_PREFIX, "body": BODY_PREFIX}


def open_files_at_least(wanted: int) -> None:
    """Raise this process's soft RLIMIT_NOFILE to ``wanted`` (the sockets it holds), or skip saying why."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    if hard != resource.RLIM_INFINITY and hard < wanted:
        problem = f"the open-file hard limit is {hard}, this test holds {wanted} sockets: raise it (ulimit -Hn)"
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def cpu_wait(pids: list[int]) -> float:
    """Seconds these processes have spent runnable but waiting for a CPU (Linux schedstat; 0 where unavailable):
    on an oversubscribed machine, the part of a slow answer that is the machine's, not the server's."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/schedstat") as f:
                total += int(f.read().split()[1])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e9


def get_home(url: str, timeout: float) -> float:
    """Seconds GET / took on a fresh connection (a new visitor), or infinity if it failed or timed out."""
    started = time.monotonic()
    try:
        response = requests.get(url + "/", timeout=timeout, headers={"Connection": "close"})
    except requests.RequestException:
        return float("inf")
    return time.monotonic() - started if response.status_code == 200 else float("inf")


# --------------------------------------------------------------------------- holding thousands


class Held:
    __slots__ = ("kind", "opened", "connected", "next_byte", "answer")

    def __init__(self, kind: str, now: float):
        self.kind, self.opened, self.connected, self.next_byte, self.answer = kind, now, False, 0.0, b""


class Holder:
    """Keeps ``count`` connections to ``port`` open, a third each idle, trickling its head and trickling its
    body a byte every ``every`` seconds; a connection the server closes is replaced at once (as an attacker
    would). Records when and how the server closed each one."""

    def __init__(self, port: int, count: int, every: float):
        self.address = ("127.0.0.1", port)
        self.count, self.every = count, every
        self.selector = selectors.DefaultSelector()
        self.held: dict[socket.socket, Held] = {}
        self.closed: list[tuple[str, float, bytes]] = []  # (kind, seconds it lived, what the server answered)
        self.failed_connects = 0
        self.opened = 0
        self.connected = 0  # a counter, not a walk over ``held``: the sampler thread reads it while this one runs

    def established(self) -> int:
        return self.connected

    def open(self, kind: str) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        code = sock.connect_ex(self.address)
        if code not in (0, errno.EINPROGRESS):
            sock.close()
            self.failed_connects += 1
            return
        self.held[sock] = Held(kind, time.monotonic())
        self.selector.register(sock, selectors.EVENT_WRITE)
        self.opened += 1

    def drop(self, sock: socket.socket) -> Held:
        held = self.held.pop(sock)
        self.connected -= held.connected
        self.selector.unregister(sock)
        sock.close()
        return held

    def run(self, until: float, per_second: int = 400) -> None:
        """Hold until ``until``, opening at most ``per_second`` connections a second: the first ones spread their
        deadlines over ten seconds, as connections arriving one by one would."""
        kinds = list(PREFIX)
        budget, last = 0.0, time.monotonic()
        next_trickle = last
        while time.monotonic() < until:
            now = time.monotonic()
            budget, last = min(budget + (now - last) * per_second, per_second / 10), now
            for _ in range(min(self.count - len(self.held), int(budget))):
                self.open(kinds[self.opened % len(kinds)])
                budget -= 1
            for key, mask in self.selector.select(timeout=0.05):
                sock, held = key.fileobj, self.held[key.fileobj]
                if not held.connected:
                    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        self.drop(sock)
                        self.failed_connects += 1
                        continue
                    held.connected, held.next_byte = True, time.monotonic() + self.every
                    self.connected += 1
                    if PREFIX[held.kind]:
                        sock.send(PREFIX[held.kind])
                    self.selector.modify(sock, selectors.EVENT_READ)
                    continue
                try:
                    data = sock.recv(4096)
                except OSError:
                    data = b""
                held.answer += data
                if not data:  # the server closed it
                    self.drop(sock)
                    self.closed.append((held.kind, time.monotonic() - held.opened, held.answer))
            now = time.monotonic()
            if now < next_trickle:
                continue
            next_trickle = now + 0.1
            for sock, held in list(self.held.items()):
                if held.connected and held.kind != "idle" and held.next_byte <= now:
                    held.next_byte = now + self.every
                    try:
                        sock.send(b"a")
                    except OSError:
                        pass  # closed by the server: the read side sees it

    def close_all(self) -> None:
        for sock in list(self.held):
            self.drop(sock)
        self.selector.close()


HELD = 4000
HOLD_FOR = 30.0
TRICKLE_EVERY = 3.0  # the attacker: a byte every 3 s


@pytest.mark.slow
def test_4000_idle_and_trickling_connections_do_not_starve_get(start_server):
    """4,000 connections (idle, trickling a head, trickling a body a byte every 3 s) held for 30 s against the Procfile's
    defaults, every one the server closes replaced at once; GET / from a new visitor, once a second, answers
    within 2 s (or ten times this run's own unloaded GET / on a machine busy enough to need it)."""
    open_files_at_least(HELD + 512)
    server = start_server()  # as deployed: 2 workers x GUNICORN_WORKER_CONNECTIONS, the default deadlines
    workers = children(server.proc.pid)
    baseline = [get_home(server.url, 10) for _ in range(5)]
    bound = max(2.0, 10 * statistics.median(baseline))
    memory_before = {pid: rss_kb(pid) for pid in workers}

    holder = Holder(server.port, HELD, TRICKLE_EVERY)
    samples: list[tuple[float, int]] = []  # (GET / seconds, connections held at that moment)
    memory_peak = dict(memory_before)
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(1.0):
            held = holder.established()
            if held < 0.9 * HELD:
                continue  # still ramping up (or replacing a burst of closed ones)
            samples.append((get_home(server.url, 30), held))
            for pid in workers:
                memory_peak[pid] = max(memory_peak[pid], rss_kb(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        ramp_deadline = time.monotonic() + 60
        while holder.established() < HELD and time.monotonic() < ramp_deadline:
            holder.run(until=time.monotonic() + 0.5)
        if holder.established() < 0.9 * HELD:  # the server neither took them nor could the kernel queue them all
            pytest.fail(f"only {holder.established()} of {HELD} connections could be opened; meanwhile GET / took "
                        f"{get_home(server.url, bound + BUSY_MACHINE_SLACK):.1f} s (inf: no answer)")
        waited_before = cpu_wait(workers)
        holder.run(until=time.monotonic() + HOLD_FOR)
        waited = cpu_wait(workers) - waited_before
    finally:
        stop.set()
        sampler.join(timeout=40)
        holder.close_all()

    timings = [t for t, _ in samples]
    growth = sum(memory_peak[pid] - memory_before[pid] for pid in workers)
    by_kind = {kind: [(lived, answer) for k, lived, answer in holder.closed if k == kind] for kind in PREFIX}
    print(f"\nGET / with {HELD} connections held (min {min(h for _, h in samples)} established at a sample): "
          f"{len(timings)} samples, median {statistics.median(timings) * 1000:.0f} ms, max {max(timings) * 1000:.0f} ms "
          f"(unloaded median {statistics.median(baseline) * 1000:.0f} ms, bound {bound:.1f} s); "
          f"{holder.opened} connections opened in all, closed by the server: "
          + ", ".join(f"{kind} {len(c)} (longest {max((l for l, _ in c), default=0):.1f} s)"
                      for kind, c in by_kind.items())
          + f"; workers' memory +{growth / 1024:.1f} MiB at the peak, {growth / HELD:.1f} KiB per held connection; "
          f"the workers waited {waited:.1f} s for a CPU during the {HOLD_FOR:.0f} s")
    assert len(samples) >= HOLD_FOR / 2, f"only {len(samples)} samples while the connections were held"
    # Every visitor was served; nine in ten within the bound. (On the shared 2-core test machine, whole seconds
    # pass when neither worker gets a CPU, under 15% of one each here: "some" CPU pressure ~80%. A stall of the
    # machine is not the attack's doing, so one sample in ten may take up to BUSY_MACHINE_SLACK longer.)
    machine = f"(the workers waited {waited:.1f} s of the {HOLD_FOR:.0f} s for a CPU: is the machine oversubscribed?)"
    assert all(t != float("inf") for t in timings), (timings, machine)  # every visitor was served
    starved = waited / len(workers) > HOLD_FOR / 3
    if not starved:
        assert max(timings) < bound + BUSY_MACHINE_SLACK, (timings, machine)
        assert sorted(timings)[int(0.9 * len(timings)) - 1] < bound, (timings, machine)
    # The server ended them itself, each kind within its deadline (10 s head, 20 s body) plus slack ...
    for kind, deadline in (("idle", 10), ("head", 10), ("body", 20)):
        assert by_kind[kind], f"the server closed no {kind} connection in {HOLD_FOR:.0f} s"
        assert max(lived for lived, _ in by_kind[kind]) < deadline + 3 * BUSY_MACHINE_SLACK, kind
    # ... with a 408 to those that had started a request, and nothing to those that had sent nothing.
    assert all(answer.startswith(b"HTTP/1.1 408") for kind in ("head", "body") for _, answer in by_kind[kind])
    assert all(answer == b"" for _, answer in by_kind["idle"])
    # A few KiB per connection, so the default (2,500 a worker) fits a 512 MB dyno.
    assert growth / HELD < 64, f"{growth / HELD:.1f} KiB per held connection"
    assert children(server.proc.pid) == workers  # no worker died or was replaced
    log = server.log()
    assert "Traceback" not in log and "WORKER TIMEOUT" not in log and "[ERROR]" not in log
    if starved:  # the other machine's processes had the CPUs: GET / timings say nothing about the server
        pytest.skip(f"GET / timings not judged: the workers waited {waited:.1f} s for a CPU during the "
                    f"{HOLD_FOR:.0f} s (max GET / {max(timings):.1f} s); run it on a machine with a free core")


def test_past_capacity_new_visitors_wait_in_the_kernel_queue_for_a_deadline_to_free_a_slot(start_server):
    """Above workers x GUNICORN_WORKER_CONNECTIONS (here 1 x 50, deadline 2 s), the kernel completes the
    handshake and queues the connection (listen backlog); it is served once the connections ahead of it have
    met their deadline. So a visitor behind 150 silent connections sees its connection open at once and its
    page after about (150 / 50) x 2 s, instead of never (before: each held its slot for the 95 s keep-alive)."""
    head_timeout, capacity, silent = 2.0, 50, 150
    server = start_server({"GUNICORN_WORKER_CONNECTIONS": str(capacity),
                           "GUNICORN_HEAD_TIMEOUT": str(head_timeout)}, workers=1)
    held = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(silent)]
    try:
        started = time.monotonic()
        visitor = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        connected_in = time.monotonic() - started
        visitor.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := visitor.recv(65536):
            answer += chunk
        answered_in = time.monotonic() - started
        visitor.close()
        closed_by_server = 0
        for sock in held:
            sock.settimeout(head_timeout + BUSY_MACHINE_SLACK)
            try:
                closed_by_server += sock.recv(1) == b""
            except OSError:  # still open (a timeout) or reset
                pass
    finally:
        for sock in held:
            sock.close()
    batches = silent / capacity
    print(f"\nbehind {silent} silent connections ({capacity} slots, {head_timeout:g} s head deadline): connected in "
          f"{connected_in * 1000:.0f} ms, answered in {answered_in:.1f} s (about {batches:g} x {head_timeout:g} s "
          f"expected); {closed_by_server} silent connections closed by the server")
    assert connected_in < 1 + BUSY_MACHINE_SLACK  # the kernel queued it: no refusal, no SYN retries
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    # It waited for the silent ones ahead of it to time out (not served past them) ...
    assert answered_in > head_timeout * 0.75
    # ... and not much longer than their deadlines in turn.
    assert answered_in < (batches + 1) * head_timeout + 2 * BUSY_MACHINE_SLACK
    assert closed_by_server == silent
    assert get_home(server.url, 10) < 2 + BUSY_MACHINE_SLACK  # and once they are gone, a visitor is served at once


# --------------------------------------------------------------------------- each deadline


def closed_when(port: int, prefix: bytes, trickle: bool, every: float = 0.5, give_up: float = 30.0):
    """Open a connection, send ``prefix`` (then a byte every ``every`` s if ``trickle``); return (seconds until the
    server closed it, what it answered), or (None, answer) if it was still open after ``give_up`` s."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        started = time.monotonic()
        if prefix:
            sock.sendall(prefix)
        answer = b""
        sock.settimeout(every)
        while time.monotonic() - started < give_up:
            try:
                data = sock.recv(4096)
            except socket.timeout:
                if trickle:
                    try:
                        sock.send(b"a")
                    except OSError:
                        pass
                continue
            except ConnectionResetError:
                data = b""
            if not data:
                return time.monotonic() - started, answer
            answer += data
        return None, answer
    finally:
        sock.close()


def read_response(sock: socket.socket) -> bytes:
    """One response with a Content-Length body, from a kept-alive connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += sock.recv(65536)
    return head


def test_each_connection_is_closed_within_its_deadline_and_not_before(start_server):
    """GUNICORN_HEAD_TIMEOUT=2, GUNICORN_BODY_TIMEOUT=3: a connection that sends nothing is closed silently after
    about 2 s; one trickling its head (a byte every 0.5 s) gets a 408 after about 2 s; one trickling its body, a
    408 about 3 s after its head. A kept-alive connection may wait longer (keepalive) for its next request, and a
    slow request that makes its deadlines is answered as usual."""
    head_timeout, body_timeout = 2.0, 3.0
    server = start_server({"GUNICORN_HEAD_TIMEOUT": str(head_timeout), "GUNICORN_BODY_TIMEOUT": str(body_timeout)},
                          workers=1)
    results = {}

    def run(kind: str) -> None:
        results[kind] = closed_when(server.port, PREFIX[kind], trickle=kind != "idle")

    threads = [threading.Thread(target=run, args=(kind,)) for kind in PREFIX]
    for thread in threads:
        thread.start()

    # Meanwhile: a kept-alive connection idles past the head deadline between two requests, and both are served;
    kept = socket.create_connection(("127.0.0.1", server.port), timeout=15)
    kept.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert read_response(kept).startswith(b"HTTP/1.1 200")
    time.sleep(head_timeout + 1.5)
    kept.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert read_response(kept).startswith(b"HTTP/1.1 200"), "a kept-alive connection was closed at the head deadline"
    kept.close()
    # and a request whose head and body each take 1 s, within their deadlines, is answered (a 400 naming the field).
    slow = socket.create_connection(("127.0.0.1", server.port), timeout=15)
    body = b'{"action": "none"}'
    slow.sendall(b"POST /oauth2/v2.1/keys HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    time.sleep(1)
    slow.sendall(b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body[:5]))
    time.sleep(1)
    slow.sendall(body[5:])
    head = read_response(slow)
    slow.close()
    assert head.startswith(b"HTTP/1.1 400"), head

    for thread in threads:
        thread.join(timeout=60)
    print("\n" + ", ".join(f"{kind}: closed after {results[kind][0]:.2f} s" if results[kind][0] is not None
                           else f"{kind}: still open after 30 s" for kind in PREFIX))
    for kind, deadline in (("idle", head_timeout), ("head", head_timeout), ("body", body_timeout)):
        seconds, answer = results[kind]
        assert seconds is not None, f"the {kind} connection was still open after 30 s"
        assert deadline * 0.75 <= seconds < deadline + BUSY_MACHINE_SLACK, (kind, seconds)
        if kind == "idle":
            assert answer == b"", answer  # it never asked for anything: closed without a word
        else:
            assert answer.startswith(b"HTTP/1.1 408 Request Timeout"), answer[:200]
    log = server.log()
    assert "Traceback" not in log and "[ERROR]" not in log
