"""Say, set, goto and hangup: the nodes that move the call along without waiting for Twilio."""

from __future__ import annotations

from ivr.engine import Callback, CallUpdates, LogEntry
from ivr.engine.actions import Gather, Hangup, Pause, Play

from .support import CALL_SID, CALLED, CALLER, Call, flow_doc, hangup, make_site, say_de, say_en


def test_say_speaks_and_goes_on_until_the_caller_must_act() -> None:
    call = Call(
        make_site({"hello": {"type": "say", "prompt": "Welcome.", "next": "bye"}, "bye": hangup("Bye.")})
    )
    assert call.actions == [say_en("Welcome."), say_en("Bye."), Hangup()]
    assert [(e.kind, e.node) for e in call.log] == [
        ("flow_started", None),
        ("node", "hello"),
        ("prompt", "hello"),
        ("node", "bye"),
        ("prompt", "bye"),
        ("hangup", "bye"),
    ]
    assert call.state.node == "bye"
    assert call.result.updates == CallUpdates()


def test_say_plays_audio_and_pauses() -> None:
    prompt = ["One moment.", {"pause": 2}, {"play": "https://example.com/{called}.mp3"}]
    call = Call(
        make_site({"hello": {"type": "say", "prompt": prompt, "next": "bye"}, "bye": {"type": "hangup"}})
    )
    assert call.actions == [
        say_en("One moment."),
        Pause(2),
        Play(f"https://example.com/{CALLED}.mp3"),
        Hangup(),
    ]
    assert call.entries("prompt")[0].data == {
        "items": [
            {"text": "One moment.", "voice": "Polly.Joanna", "language": "en-US", "verb": "say"},
            {"seconds": 2, "verb": "pause"},
            {"url": f"https://example.com/{CALLED}.mp3", "verb": "play"},
        ]
    }


def test_hangup_without_a_prompt_just_hangs_up() -> None:
    call = Call(make_site({"end": {"type": "hangup"}}))
    assert call.actions == [Hangup()]
    assert call.entry("hangup") == LogEntry("hangup", "end", {})


def test_set_fills_placeholders_from_call_facts_and_variables() -> None:
    nodes = {
        "first": {"type": "set", "values": {"greeting": "Hello {caller}", "lang": "de"}, "next": "second"},
        "second": {
            "type": "set",
            "values": {
                "spelled": "{caller:digits}",
                "echo": "{greeting}, you called {called} ({call_sid}) in {lang}",
                "missing": "[{nobody}] [{nobody:digits}]",
                "literal": "{not a placeholder} {1x}",
            },
            "next": "speak",
        },
        "speak": {"type": "say", "prompt": "{greeting}!", "next": "bye"},
        "bye": {"type": "hangup"},
    }
    call = Call(make_site(nodes))
    spelled = " ".join(CALLER)
    assert call.state.variables == {
        "greeting": f"Hello {CALLER}",
        "lang": "de",
        "spelled": spelled,
        "echo": f"Hello {CALLER}, you called {CALLED} ({CALL_SID}) in de",
        "missing": "[] []",
        "literal": "{not a placeholder} {1x}",
    }
    assert call.entries("set")[0].data == {"values": {"greeting": f"Hello {CALLER}", "lang": "de"}}
    assert call.actions == [say_de(f"Hello {CALLER}!"), Hangup()]


def test_goto_continues_in_the_other_flow_with_the_calls_variables() -> None:
    other = flow_doc(
        {
            "ask": {
                "type": "gather",
                "prompt": "Account {account}: enter your PIN.",
                "variable": "pin",
                "next": "bye",
                "timeout": "bye",
                "invalid": "bye",
            },
            "bye": {"type": "hangup", "prompt": "Goodbye, {pin}."},
        },
        name="accounts",
        languages={"de": {"code": "de-DE", "voice": "Polly.Marlene"}},
    )
    nodes = {
        "remember": {"type": "set", "values": {"account": "42"}, "next": "jump"},
        "jump": {"type": "goto", "flow": "accounts"},
    }
    call = Call(make_site(nodes, flows={"accounts": other}))
    assert call.entry("goto") == LogEntry("goto", "jump", {"flow": "accounts"})
    assert call.state.flow == "accounts"
    assert call.state.node == "ask"
    # The other flow speaks its own default language.
    assert call.actions == [
        Gather(
            Callback("accounts", "ask", "input"), (say_de("Account 42: enter your PIN."),), finish_on_key="#"
        )
    ]
    assert call.log[-2] == LogEntry("node", "ask", {"type": "gather", "flow": "accounts"})
    call.step("input", Digits="1234")
    assert call.actions == [say_de("Goodbye, 1234."), Hangup()]
    assert call.state.variables == {"account": "42", "pin": "1234"}
