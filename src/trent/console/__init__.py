"""The web console at /console: server-rendered pages that call the services, never the api."""

from trent.console.app import ConsoleApp

__all__ = ["ConsoleApp"]
