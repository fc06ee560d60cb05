"""raystra's web server: the JSON API (FastAPI, documented at ``/api/docs``) and the UI.

``raystra ui`` serves it with uvicorn on 127.0.0.1:3000; runs launched from it execute in
``raystra`` processes of their own (see `RunLauncher`), recorded like CLI runs.

Example:
    >>> from raystra.web import create_app  # doctest: +SKIP
    >>> app = create_app(defs, launch_target=["-m", "my_project.definitions"])
"""

from raystra.web._app import ROUTER_MODULES, create_app, storage_url
from raystra.web._auth import Principal, require
from raystra.web._context import WebContext, web_context
from raystra.web._launcher import Launch, LaunchError, RunLauncher
from raystra.web._tokens import ROLES, TokenStore

__all__ = [
    "ROLES",
    "ROUTER_MODULES",
    "Launch",
    "LaunchError",
    "Principal",
    "RunLauncher",
    "TokenStore",
    "WebContext",
    "create_app",
    "require",
    "storage_url",
    "web_context",
]
