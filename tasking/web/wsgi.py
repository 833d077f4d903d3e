"""The gunicorn entry point (`gunicorn tasking.web.wsgi:app`): the one module-level app."""

from __future__ import annotations

import sys

from tasking.web import StartupError, create_app

try:
    app = create_app()
except StartupError as exc:
    print(f"tasking web: {exc}", file=sys.stderr)
    raise SystemExit(3) from None
