"""The identity provider's process: bind a free port, fix the issuer to it, migrate, serve.

`python -m accounts.tests.idp.serve` with IDP_STATE_DIR, IDP_SECRET_KEY and IDP_SETUP_TOKEN set (launch.py
does this). Binding port 0 before anything else lets the system choose a port nobody holds, with no race
between picking and binding; the port goes to IDP_STATE_DIR/port once the database is ready.
"""

import os
import sys
from pathlib import Path

import django
from django.core.management import call_command
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

HOST = "127.0.0.1"


def main() -> None:
    state_dir = Path(os.environ["IDP_STATE_DIR"])
    server = ThreadedWSGIServer((HOST, 0), WSGIRequestHandler)
    port = server.server_address[1]
    os.environ["IDP_ISSUER"] = f"http://{HOST}:{port}/o"  # read by settings.py, which django.setup() imports
    os.environ["DJANGO_SETTINGS_MODULE"] = "accounts.tests.idp.settings"
    django.setup()
    call_command("migrate", run_syncdb=True, verbosity=0, interactive=False)

    from django.core.wsgi import get_wsgi_application

    server.set_app(get_wsgi_application())
    written = state_dir / "port.tmp"
    written.write_text(str(port))
    written.rename(state_dir / "port")  # atomic: the test side never reads half a number
    print(f"identity provider at http://{HOST}:{port}/o", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
