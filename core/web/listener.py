"""The listening socket `gridcase serve --workers N` hands its workers.

uvicorn binds one socket and every worker accepts from it. Whichever worker wakes first accepts
every connection waiting in the queue, so a client that opens its keep-alive pool at once (wrk,
a hotline integration) lands mostly on one worker while the others idle: with two workers the
benchmark's 16 connections split 16/0, 1/15 and 4/12. On Linux each worker instead gets a socket of its own
in one SO_REUSEPORT group, and the kernel spreads new connections over the group.

The parent's socket is only bound, never listened on: it holds the port without taking
connections that nobody would accept. Pickled to a worker (uvicorn spawns them, and again
whenever one dies), it arrives as a fresh socket bound to the same address, which uvicorn then
listens on.
"""

import socket
import sys

import uvicorn


def worker_socket(config: uvicorn.Config) -> socket.socket:
    """The socket to give uvicorn's supervisor for the configured host and port; OSError when the
    port is taken, by anything, including another `gridcase serve`."""
    if sys.platform != "linux":  # elsewhere SO_REUSEPORT does not balance: uvicorn's shared socket
        return _configure(config.bind_socket())
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    # Any process may join a SO_REUSEPORT group of its own user, so a second `serve` on this
    # port would silently take half the connections. A plain listener cannot bind beside a
    # group, nor the group beside it: this one proves the port free.
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((config.host, config.port))
        probe.listen()
        address = probe.getsockname()
    return _bind(ReusePortSocket(family, socket.SOCK_STREAM), address[:2])


class ReusePortSocket(socket.socket):
    def __reduce__(self):
        return _fresh, (self.family, self.getsockname()[:2])


def _fresh(family: int, address: tuple[str, int]) -> socket.socket:
    return _configure(_bind(socket.socket(family, socket.SOCK_STREAM), address))


def _bind(sock: socket.socket, address: tuple[str, int]) -> socket.socket:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past the last run's TIME_WAITs
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    return sock


def _configure(sock: socket.socket) -> socket.socket:
    # created here, the socket has protocol 0, so asyncio never sets TCP_NODELAY on the
    # connections it accepts, and every keep-alive response would wait ~40 ms for a delayed
    # ACK; on Linux the option set on the listener is inherited by each accepted connection
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock
