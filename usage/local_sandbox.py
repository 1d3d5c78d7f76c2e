"""Serve this Django project on a free loopback port for a while, so that a command can pull from the
built-in sandbox over real HTTP when no web server is running (seed_demo, pull_usage --local-sandbox)."""

import threading
from contextlib import contextmanager
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.core.wsgi import get_wsgi_application


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002  (the standard library's name)
        pass


@contextmanager
def local_sandbox():
    """Yields the sandbox's base URL (http://127.0.0.1:PORT/sandbox) while a server thread answers."""
    server = make_server("127.0.0.1", 0, get_wsgi_application(), _ThreadingServer, _QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/sandbox"
    finally:
        server.shutdown()
        server.server_close()
