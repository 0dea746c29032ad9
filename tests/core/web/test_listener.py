"""`gridcase serve --workers N` spreads connections over its workers: each worker listens on a
socket of its own in one SO_REUSEPORT group, where uvicorn's one shared socket let the first
worker to wake take every connection."""

import contextlib
import os
import pickle
import socket
import subprocess
import sys
import time
from multiprocessing.reduction import ForkingPickler
from pathlib import Path

import pytest
import uvicorn

from gridcase.core.web.listener import worker_socket

from ...conftest import TESTCITY

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="SO_REUSEPORT balances on Linux only")
CONNECTED, LISTENING = "01", "0A"
GRIDCASE = str(Path(sys.executable).parent / "gridcase")


def _in_a_worker(parent: socket.socket) -> socket.socket:
    """What a spawned worker receives: the socket as multiprocessing pickles it."""
    return pickle.loads(ForkingPickler.dumps(parent))


def test_each_worker_gets_its_own_listener_and_the_kernel_spreads_connections():
    parent = worker_socket(uvicorn.Config(app=None, host="127.0.0.1", port=0))
    address = parent.getsockname()
    with pytest.raises(ConnectionRefusedError):  # the parent holds the port but takes nothing
        socket.create_connection(address, timeout=1).close()
    workers = [_in_a_worker(parent) for _ in range(2)]
    assert {w.getsockname() for w in workers} == {address}
    assert all(w.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for w in workers)
    for w in workers:
        w.listen()
        w.setblocking(False)
    clients = [socket.create_connection(address, timeout=1) for _ in range(32)]
    accepted = [0, 0]
    for i, w in enumerate(workers):
        while True:
            try:
                conn, _ = w.accept()
            except BlockingIOError:
                break
            accepted[i] += 1
            conn.close()
    for s in [*clients, *workers, parent]:
        s.close()
    # all 32 on one socket would happen by chance once in 2**31 runs
    assert sum(accepted) == 32 and min(accepted) > 0, accepted


def test_a_port_in_use_is_refused_before_any_worker_starts():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        config = uvicorn.Config(app=None, host="127.0.0.1", port=taken.getsockname()[1])
        with pytest.raises(OSError):
            worker_socket(config)
    with socket.socket() as plain:  # nor may anything else bind beside a serving group
        parent = worker_socket(uvicorn.Config(app=None, host="127.0.0.1", port=0))
        listener = _in_a_worker(parent)
        listener.listen()
        with pytest.raises(OSError):
            plain.bind(parent.getsockname())
        listener.close()
        parent.close()


def _sockets(pid: int, port: int, state: str) -> set[str]:
    """The inodes of `pid`'s TCP sockets on local `port` in `state` (01 connected, 0A
    listening), from /proc."""
    fds = Path(f"/proc/{pid}/fd")
    inodes = set()
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):  # closed since listed
            if (target := os.readlink(fd)).startswith("socket:["):
                inodes.add(target[8:-1])
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == state and fields[9] in inodes:
            found.add(fields[9])
    return found


def test_served_by_two_workers_a_burst_of_keep_alive_connections_reaches_both(db_url, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GRIDCASE_SWEEP_SECONDS": "0", "GRIDCASE_EVIDENCE_DIR": str(tmp_path / "ev")}
    server = subprocess.Popen(
        [GRIDCASE, "serve", "--profile", str(TESTCITY), "--db", db_url, "--port", str(port), "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    clients: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while len(workers) < 2 or not all(_sockets(p, port, LISTENING) for p in workers):
            assert server.poll() is None and time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.2)
            children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
            workers = [int(p) for p in children if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
        # as wrk or a client's keep-alive pool opens: every connection at once, then a request on each
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
        for c in clients:
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: gridcase\r\n\r\n")
        for c in clients:
            assert c.recv(4096).startswith(b"HTTP/1.1 200")
        first, second = (_sockets(p, port, LISTENING) for p in workers)
        assert first and second and not first & second  # a listener each, not one shared
        per_worker = [len(_sockets(p, port, CONNECTED)) for p in workers]
        assert sum(per_worker) == 16 and min(per_worker) > 0, per_worker
    finally:
        for c in clients:
            c.close()
        server.terminate()
        server.wait(timeout=30)
