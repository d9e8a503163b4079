"""jobtrail: self-hostable monitoring of warehouse jobs."""

__version__ = "0.1.0"
