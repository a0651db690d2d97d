"""The SoraWM executor: the agent that pulls tasks from the service, and the engine."""

__version__ = "0.1.0"
