"""Punctual: a Kubernetes operator for scheduled jobs, one JobRun per scheduled time."""

__version__ = "0.1.0"
