"""``python -m tnaas.probe``: the container HEALTHCHECK. Exit 0 when this container's process answers.

The web process answers ``/metrics`` on its port, a worker on its metrics port; whichever this
container runs, one of them answers. It says nothing of the rest of the stack (that is /healthz)
and imports nothing heavy: Docker runs it every 30 s.
"""

from __future__ import annotations

import sys
import urllib.request

from core.settings import get_settings


def answers(port: int, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def main() -> int:
    settings = get_settings()
    ports = [p for p in (settings.web_port, settings.worker_metrics_port) if p]
    if any(answers(port) for port in ports):
        return 0
    print(f"nothing answers /metrics on 127.0.0.1 port {' or '.join(map(str, ports))}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
