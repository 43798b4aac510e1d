"""Menu, gather and survey nodes: asking, key presses and speech, retries, timeouts and invalid input."""

from __future__ import annotations

from typing import Any

import pytest

from ivr.engine import Callback, CallUpdates, LogEntry
from ivr.engine.actions import Gather, Hangup

from .support import CALLER, Call, hangup, make_site, say_en, say_es

MENU_PROMPT = {"en": "For billing press 1, for support press 2.", "es": "Para facturación oprima 1."}
RETRY_PROMPT = "Sorry, I didn't catch that."
ENDINGS = {
    "billing": hangup("Billing."),
    "support": hangup("Support."),
    "operator": hangup("Operator."),
    "no_input": hangup("We did not hear you."),
    "wrong_input": hangup("That is not an option."),
}


def menu(**fields: Any) -> dict[str, Any]:
    return {
        "type": "menu",
        "prompt": MENU_PROMPT,
        "options": {
            "1": {"next": "billing", "speech": ["billing", "payment", "facturación"]},
            "2": {"next": "support", "speech": ["technical support"]},
            "9": "operator",
        },
        "retry_prompt": RETRY_PROMPT,
        "timeout": "no_input",
        "invalid": "wrong_input",
    } | fields


def menu_call(**fields: Any) -> Call:
    return Call(make_site({"menu": menu(**fields), **ENDINGS}))


def menu_gather(*prompts: Any, **fields: Any) -> Gather:
    options = {
        "input": "dtmf speech",
        "timeout": 5,
        "num_digits": 1,
        "hints": ("billing", "payment", "facturación", "technical support"),
        "language": "en-US",
    }
    return Gather(action=Callback("main", "menu", "input"), prompts=prompts, **options | fields)


class TestMenu:
    def test_asks_with_a_gather_that_hears_keys_and_the_option_phrases(self) -> None:
        call = menu_call()
        assert call.actions == [menu_gather(say_en(MENU_PROMPT["en"]))]
        assert call.state.node == "menu"
        assert call.log == [
            LogEntry("flow_started", None, {"flow": "main"}),
            LogEntry("node", "menu", {"type": "menu", "flow": "main"}),
            LogEntry(
                "prompt",
                "menu",
                {
                    "items": [
                        {
                            "text": MENU_PROMPT["en"],
                            "voice": "Polly.Joanna",
                            "language": "en-US",
                            "verb": "say",
                        }
                    ]
                },
            ),
        ]

    def test_a_menu_without_phrases_listens_for_keys_only(self) -> None:
        nodes = {"menu": menu(options={"1": "billing"}, timeout_seconds=8), **ENDINGS}
        call = Call(make_site(nodes))
        (gather,) = call.actions
        assert (gather.input, gather.timeout, gather.num_digits, gather.hints, gather.language) == (
            "dtmf",
            8,
            1,
            (),
            None,
        )

    def test_a_speech_only_menu_listens_in_the_callers_language(self) -> None:
        nodes = {
            "start": {"type": "set", "values": {"lang": "es"}, "next": "menu"},
            "menu": menu(input="speech"),
        }
        call = Call(make_site({**nodes, **ENDINGS}))
        assert call.actions == [menu_gather(say_es(MENU_PROMPT["es"]), input="speech", language="es-US")]

    @pytest.mark.parametrize(("digits", "ending"), [("1", "Billing."), ("2", "Support."), ("9", "Operator.")])
    def test_a_key_press_takes_its_option(self, digits: str, ending: str) -> None:
        call = menu_call()
        call.step("input", Digits=digits)
        assert call.actions == [say_en(ending), Hangup()]
        assert call.entry("input").data == {"digits": digits}
        assert call.entry("menu_choice") == LogEntry("menu_choice", "menu", {"option": digits, "by": "dtmf"})
        assert call.state.tries == {}

    @pytest.mark.parametrize(
        ("speech", "option", "ending"),
        [
            ("I have a question about my payment, please.", "1", "Billing."),
            ("TECHNICAL   support!", "2", "Support."),
            ("Facturación", "1", "Billing."),
            ("9", "9", "Operator."),
        ],
    )
    def test_speech_chooses_the_option_whose_phrase_or_key_was_said(
        self, speech: str, option: str, ending: str
    ) -> None:
        call = menu_call()
        call.step("input", SpeechResult=speech, Confidence="0.87")
        assert call.actions == [say_en(ending), Hangup()]
        assert call.entry("input").data == {"speech": speech, "confidence": "0.87"}
        assert call.entry("menu_choice").data == {"option": option, "by": "speech"}

    def test_speech_counts_when_keys_pressed_alongside_match_nothing(self) -> None:
        call = menu_call()
        call.step("input", Digits="5", SpeechResult="billing", Confidence="0.6")
        assert call.actions == [say_en("Billing."), Hangup()]
        assert call.entry("menu_choice").data == {"option": "1", "by": "speech"}

    @pytest.mark.parametrize("speech", ["payments", "nine", "supporting", "bill ing"])
    def test_speech_must_match_whole_words(self, speech: str) -> None:
        call = menu_call(retries=0)
        call.step("input", SpeechResult=speech, Confidence="0.87")
        assert call.actions == [say_en("That is not an option."), Hangup()]
        assert call.entries("menu_choice") == []

    def test_invalid_keys_are_retried_twice_by_default_then_take_the_invalid_branch(self) -> None:
        call = menu_call()
        for attempt in (1, 2):
            call.step("input", Digits="5")
            assert call.actions == [menu_gather(say_en(RETRY_PROMPT), say_en(MENU_PROMPT["en"]))]
            assert call.state.node == "menu"
            assert call.state.tries == {"menu": attempt}
            assert call.entry("retry").data == {"reason": "invalid", "attempt": attempt}
            assert [e.kind for e in call.log] == ["input", "retry", "prompt", "prompt"]
        call.step("input", Digits="5")
        assert call.actions == [say_en("That is not an option."), Hangup()]
        assert call.entry("invalid_input").data == {"attempts": 3}
        assert call.state.node == "wrong_input"

    def test_silence_is_retried_then_takes_the_timeout_branch(self) -> None:
        call = menu_call(retries=1)
        call.step("input")
        assert call.entry("input").data == {}
        assert call.entry("retry").data == {"reason": "timeout", "attempt": 1}
        call.step("input", Digits="", SpeechResult="")
        assert call.actions == [say_en("We did not hear you."), Hangup()]
        assert call.entry("no_input").data == {"attempts": 2}

    def test_without_a_retry_prompt_the_menu_is_simply_asked_again(self) -> None:
        nodes = {"menu": {k: v for k, v in menu().items() if k != "retry_prompt"}, **ENDINGS}
        call = Call(make_site(nodes))
        call.step("input")
        assert call.actions == [menu_gather(say_en(MENU_PROMPT["en"]))]

    def test_no_retries_means_the_first_mistake_decides(self) -> None:
        call = menu_call(retries=0)
        call.step("input", Digits="7")
        assert call.actions == [say_en("That is not an option."), Hangup()]
        assert call.entry("invalid_input").data == {"attempts": 1}

    def test_coming_back_to_a_menu_starts_its_retries_afresh(self) -> None:
        nodes = {
            "menu": menu(retries=1, invalid="again"),
            "again": {"type": "say", "prompt": "Let's start over.", "next": "menu"},
            **ENDINGS,
        }
        call = Call(make_site(nodes))
        call.step("input", Digits="5")
        call.step("input", Digits="5")
        assert call.actions == [say_en("Let's start over."), menu_gather(say_en(MENU_PROMPT["en"]))]
        assert call.state.tries == {}
        call.step("input", Digits="5")
        assert call.entry("retry").data == {"reason": "invalid", "attempt": 1}

    def test_an_option_sets_variables_and_switches_the_language(self) -> None:
        nodes = {
            "menu": menu(
                options={"2": {"next": "confirm", "set": {"lang": "es", "choice": "soporte para {caller}"}}}
            ),
            "confirm": {
                "type": "say",
                "prompt": {"en": "You chose {choice}.", "es": "Eligió {choice}."},
                "next": "again",
            },
            "again": menu(),
            **ENDINGS,
        }
        call = Call(make_site(nodes))
        call.step("input", Digits="2")
        assert call.state.variables == {"lang": "es", "choice": f"soporte para {CALLER}"}
        confirm, gather = call.actions
        assert confirm == say_es(f"Eligió soporte para {CALLER}.")
        assert gather.prompts == (say_es(MENU_PROMPT["es"]),)
        assert gather.language == "es-US"

    def test_a_pound_option_turns_off_the_finish_key_so_it_can_be_pressed(self) -> None:
        call = menu_call(options={"#": "operator", "1": "billing"})
        (gather,) = call.actions
        assert gather.finish_on_key == ""
        call.step("input", Digits="#")
        assert call.actions == [say_en("Operator."), Hangup()]

    def test_menus_without_a_pound_option_keep_twilios_finish_key(self) -> None:
        (gather,) = menu_call().actions
        assert gather.finish_on_key is None


GATHER_PROMPT = "Enter your account number, then press pound."


def gather_call(**fields: Any) -> Call:
    node = {
        "type": "gather",
        "prompt": GATHER_PROMPT,
        "variable": "account",
        "pattern": "^[0-9]{6,10}$",
        "retry_prompt": "That number is not valid.",
        "next": "confirm",
        "timeout": "no_input",
        "invalid": "wrong_input",
    } | fields
    nodes = {
        "ask": {k: v for k, v in node.items() if v is not None},
        "confirm": {"type": "say", "prompt": "Account {account}, that is {account:digits}.", "next": "bye"},
        "bye": hangup("Goodbye."),
        **ENDINGS,
    }
    return Call(make_site(nodes))


class TestGather:
    def test_asks_for_digits_ended_by_the_pound_key(self) -> None:
        call = gather_call()
        assert call.actions == [
            Gather(Callback("main", "ask", "input"), (say_en(GATHER_PROMPT),), timeout=5, finish_on_key="#")
        ]

    def test_length_finish_key_and_timeout_are_passed_on(self) -> None:
        (gather,) = gather_call(num_digits=4, finish_on_key="", timeout_seconds=12).actions
        assert (gather.num_digits, gather.finish_on_key, gather.timeout) == (4, "", 12)

    def test_valid_digits_are_stored_in_the_variable(self) -> None:
        call = gather_call()
        call.step("input", Digits="123456")
        assert call.state.variables == {"account": "123456"}
        assert call.actions == [
            say_en("Account 123456, that is 1 2 3 4 5 6."),
            say_en("Goodbye."),
            Hangup(),
        ]
        assert call.entry("gathered") == LogEntry("gathered", "ask", {"variable": "account"})

    @pytest.mark.parametrize("digits", ["12345", "12345678901", "123*456"])
    def test_digits_not_matching_the_pattern_are_retried_then_invalid(self, digits: str) -> None:
        call = gather_call()
        call.step("input", Digits=digits)
        assert call.actions[0].prompts == (say_en("That number is not valid."), say_en(GATHER_PROMPT))
        assert call.state.variables == {}
        call.step("input", Digits=digits)
        call.step("input", Digits=digits)
        assert call.actions == [say_en("That is not an option."), Hangup()]
        assert call.entry("invalid_input").data == {"attempts": 3}

    def test_the_pattern_must_match_all_the_digits(self) -> None:
        call = gather_call(pattern="[0-9]{4}", retries=0)
        call.step("input", Digits="12345")
        assert call.state.node == "wrong_input"

    def test_without_a_pattern_any_digits_are_taken(self) -> None:
        call = gather_call(pattern=None)
        call.step("input", Digits="7")
        assert call.state.variables == {"account": "7"}

    def test_speech_is_not_digits(self) -> None:
        call = gather_call(retries=0)
        call.step("input", SpeechResult="one two three four five six", Confidence="0.9")
        assert call.state.node == "wrong_input"

    def test_silence_is_retried_then_takes_the_timeout_branch(self) -> None:
        call = gather_call(retries=1)
        call.step("input")
        assert call.entry("retry").data == {"reason": "timeout", "attempt": 1}
        call.step("input")
        assert call.actions == [say_en("We did not hear you."), Hangup()]


SURVEY_PROMPT = "How satisfied were you? Press 1 to 5."


def survey_call(**fields: Any) -> Call:
    survey = {
        "type": "survey",
        "prompt": SURVEY_PROMPT,
        "retry_prompt": "Please press a number from 1 to 5.",
        "thanks": "Thank you for your feedback.",
    } | fields
    nodes = {"survey": {k: v for k, v in survey.items() if v is not None}, "after": hangup("One more thing.")}
    return Call(make_site(nodes))


class TestSurvey:
    def test_asks_for_one_key(self) -> None:
        call = survey_call()
        assert call.actions == [
            Gather(Callback("main", "survey", "input"), (say_en(SURVEY_PROMPT),), timeout=5, num_digits=1)
        ]

    @pytest.mark.parametrize("score", [1, 3, 5])
    def test_a_valid_score_is_recorded_thanked_and_the_call_ends(self, score: int) -> None:
        call = survey_call()
        call.step("input", Digits=str(score))
        assert call.result.updates == CallUpdates(survey_score=score)
        assert call.state.variables == {"survey_score": str(score)}
        assert call.entry("survey").data == {"score": score, "scale": 5}
        assert call.actions == [say_en("Thank you for your feedback."), Hangup()]

    def test_without_thanks_the_call_just_ends(self) -> None:
        call = survey_call(thanks=None)
        call.step("input", Digits="4")
        assert call.actions == [Hangup()]

    def test_with_next_the_flow_goes_on(self) -> None:
        call = survey_call(next="after")
        call.step("input", Digits="4")
        assert call.actions == [say_en("Thank you for your feedback."), say_en("One more thing."), Hangup()]

    @pytest.mark.parametrize(("scale", "digits"), [(5, "0"), (5, "6"), (5, "*"), (3, "4"), (9, "10")])
    def test_a_score_outside_the_scale_is_asked_once_more_then_given_up(
        self, scale: int, digits: str
    ) -> None:
        call = survey_call(scale=scale)
        call.step("input", Digits=digits)
        assert call.entry("retry").data == {"reason": "invalid", "attempt": 1}
        assert call.actions[0].prompts == (
            say_en("Please press a number from 1 to 5."),
            say_en(SURVEY_PROMPT),
        )
        call.step("input", Digits=digits)
        assert call.entry("survey").data == {"score": None, "reason": "invalid"}
        assert call.result.updates == CallUpdates()
        assert call.actions == [Hangup()]

    def test_the_top_of_a_custom_scale_is_valid(self) -> None:
        call = survey_call(scale=9)
        call.step("input", Digits="9")
        assert call.result.updates == CallUpdates(survey_score=9)

    def test_no_answer_is_recorded_as_no_score(self) -> None:
        call = survey_call(retries=0, next="after")
        call.step("input")
        assert call.entry("no_input").data == {"attempts": 1}
        assert call.entry("survey").data == {"score": None, "reason": "timeout"}
        assert call.actions == [say_en("One more thing."), Hangup()]
