"""The lab's stand-in for kube-proxy (lab/service_proxy.py): one forwarder per Service address."""
import socket
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lab"))
import service_proxy  # noqa: E402


def echo_server(tag):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.sendall(tag + b":" + conn.recv(100))
    threading.Thread(target=serve, daemon=True).start()
    return srv


def ask(address):
    with socket.create_connection(address, timeout=5) as c:
        c.sendall(b"hi")
        return c.recv(100)


def test_a_service_removed_then_added_again_at_the_same_address_is_served_by_the_new_forwarder():
    old_backend, new_backend = echo_server(b"old"), echo_server(b"new")
    try:
        first = service_proxy._Forwarder(("127.0.0.1", 0), old_backend.getsockname()[1])
        address = first.sock.getsockname()
        assert ask(address) == b"old:hi"
        first.close()  # its accept thread is still blocked: the address must be free all the same
        second = service_proxy._Forwarder(address, new_backend.getsockname()[1])
        try:
            assert ask(address) == b"new:hi"
        finally:
            second.close()
        refused = socket.socket()
        try:
            assert refused.connect_ex(address) != 0, "a closed forwarder still accepts"
        finally:
            refused.close()
    finally:
        old_backend.close()
        new_backend.close()
