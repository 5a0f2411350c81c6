"""Is the web process' port free? Asked before anything starts: a taken port is the operator's to fix,
and says which setting moves it, instead of a traceback and a restart loop."""

from __future__ import annotations

import socket

from core.errors import OperatorError
from core.settings import Settings


class PortTaken(OperatorError):
    """The web process' address is in use by another program."""


def port_setting(settings: Settings) -> str:
    """The setting that moves the web port: the platform's $PORT when it gave one, else TNAAS_PORT."""
    return "PORT" if settings.platform_port else "TNAAS_PORT"


def check_free(settings: Settings) -> None:
    """PortTaken unless the web process could bind its address now (as uvicorn binds: SO_REUSEADDR)."""
    host, port = settings.web_host, settings.web_port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            raise PortTaken(
                f"Port {port} on {host} is already in use ({err.strerror}): another program listens there. "
                f"Stop it, or set {port_setting(settings)} to a free port (e.g. {port_setting(settings)}={port + 10})."
            ) from None
