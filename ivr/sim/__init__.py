"""The carrier simulator: plays Twilio against the app, so flows can be tried without a phone."""

from .call import CallResult, Event, SimulatedCall
from .clock import VirtualClock
from .document import TwimlError
from .people import Agents, Caller, Input
from .transport import HttpTransport, WsgiTransport

__all__ = [
    "Agents",
    "CallResult",
    "Caller",
    "Event",
    "HttpTransport",
    "Input",
    "SimulatedCall",
    "TwimlError",
    "VirtualClock",
    "WsgiTransport",
]
