"""The pure flow engine: flow model, validation and step(); no Flask, SQLAlchemy or twilio here."""

from .actions import Action, Callback, LogEntry
from .effects import UNCHANGED, AddToDoNotCall, CallUpdates, Effect
from .loader import Bundle, load_documents, load_folder
from .problems import Problem
from .runner import start, step
from .runtime import CallContext, CallState, FlowError, StepResult
from .site import Desk, Flow, Site

__all__ = [
    "UNCHANGED",
    "Action",
    "AddToDoNotCall",
    "Bundle",
    "CallContext",
    "CallState",
    "CallUpdates",
    "Callback",
    "Desk",
    "Effect",
    "Flow",
    "FlowError",
    "LogEntry",
    "Problem",
    "Site",
    "StepResult",
    "load_documents",
    "load_folder",
    "start",
    "step",
]
