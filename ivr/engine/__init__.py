"""The pure flow engine: flow model, validation and step(); no Flask, SQLAlchemy or twilio here."""

from .actions import Action, Callback, LogEntry
from .loader import Bundle, load_folder
from .problems import Problem
from .runtime import CallContext, CallState, FlowError, StepResult, start, step
from .site import Desk, Flow, Site

__all__ = [
    "Action",
    "Bundle",
    "CallContext",
    "CallState",
    "Callback",
    "Desk",
    "Flow",
    "FlowError",
    "LogEntry",
    "Problem",
    "Site",
    "StepResult",
    "load_folder",
    "start",
    "step",
]
