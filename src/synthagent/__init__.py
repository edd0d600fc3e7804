"""synthagent: mock worlds in which small language models learn real agentic skills."""

__version__ = "0.1.0"
