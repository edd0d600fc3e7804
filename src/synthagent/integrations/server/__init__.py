"""The HTTP environment server: any trainer plays synthagent episodes over HTTP (docs/serve.md).

FastAPI and uvicorn come with the `serve` extra; the client (`client.py`) needs only the standard library.
"""

from synthagent.integrations.server.client import AsyncServeClient, ServeClient, ServeError
from synthagent.integrations.server.store import ServeLimits

__all__ = ["AsyncServeClient", "ServeClient", "ServeError", "ServeLimits"]
