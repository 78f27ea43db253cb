"""jobdash: a job manager with a terminal dashboard."""

__version__ = "0.1.0"
