"""Prompts: which language and voice the caller hears, fixed-language parts and placeholders."""

from __future__ import annotations

from typing import Any

import pytest

from ivr.engine.actions import Say

from .support import Call, make_site, say_de, say_en, say_es

GREETING = {"en": "Hello {caller}.", "es": "Hola {caller}."}


def spoken(prompt: Any, lang: str | None = None, **flow: Any) -> list[Any]:
    """What a caller (who chose `lang`, if given) hears for `prompt`."""
    nodes: dict[str, Any] = {}
    if lang is not None:
        nodes["choose"] = {"type": "set", "values": {"lang": lang}, "next": "speak"}
    nodes |= {"speak": {"type": "say", "prompt": prompt, "next": "end"}, "end": {"type": "hangup"}}
    return Call(make_site(nodes, **flow)).actions[:-1]


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (None, say_en("Hello +15125550111.")),
        ("en", say_en("Hello +15125550111.")),
        ("es", say_es("Hola +15125550111.")),
    ],
)
def test_a_localised_prompt_is_spoken_in_the_callers_language(lang: str | None, expected: Say) -> None:
    assert spoken(GREETING, lang) == [expected]


def test_a_missing_translation_is_spoken_in_the_default_language_with_its_voice() -> None:
    assert spoken(GREETING, "de") == [say_en("Hello +15125550111.")]


def test_a_default_language_other_than_english() -> None:
    assert spoken({"es": "Hola.", "de": "Hallo."}, default_language="es") == [say_es("Hola.")]
    assert spoken({"es": "Hola.", "de": "Hallo."}, "de", default_language="es") == [say_de("Hallo.")]
    assert spoken({"es": "Hola.", "de": "Hallo."}, "en", default_language="es") == [say_es("Hola.")]


def test_an_undeclared_language_falls_back_to_the_default() -> None:
    assert spoken(GREETING, "fr") == [say_en("Hello +15125550111.")]
    assert spoken("Plain text.", "fr") == [say_en("Plain text.")]


def test_plain_text_is_spoken_in_the_callers_language() -> None:
    assert spoken("Acme.", "es") == [say_es("Acme.")]


def test_a_fixed_language_part_ignores_the_callers_choice() -> None:
    prompt = ["For English, press 1.", {"text": "Para español, oprima dos.", "language": "es"}]
    expected = [say_en("For English, press 1."), say_es("Para español, oprima dos.")]
    assert spoken(prompt) == expected
    assert spoken(prompt, "es")[1] == expected[1]


def test_a_language_without_a_voice_uses_twilios_default_voice() -> None:
    languages = {"en": {"code": "en-GB"}, "fr": {"code": "fr-FR"}}
    assert spoken({"en": "Hello.", "fr": "Bonjour."}, "fr", languages=languages) == [
        Say("Bonjour.", voice=None, language="fr-FR")
    ]


def test_a_flow_without_languages_speaks_us_english() -> None:
    assert spoken("Hello.", languages=None, default_language=None) == [Say("Hello.", language="en-US")]


def test_the_first_language_is_the_default_when_none_is_named() -> None:
    languages = {"es": {"code": "es-MX"}, "en": {"code": "en-US"}}
    assert spoken({"es": "Hola.", "en": "Hello."}, languages=languages, default_language=None) == [
        Say("Hola.", language="es-MX")
    ]


def test_speech_is_recognised_in_the_callers_language_or_the_default() -> None:
    def listens_in(lang: str) -> str:
        nodes = {
            "choose": {"type": "set", "values": {"lang": lang}, "next": "menu"},
            "menu": {
                "type": "menu",
                "prompt": "Say sales.",
                "options": {"1": {"next": "end", "speech": ["sales"]}},
                "timeout": "end",
                "invalid": "end",
            },
            "end": {"type": "hangup"},
        }
        return str(Call(make_site(nodes)).actions[0].language)

    assert listens_in("es") == "es-US"
    assert listens_in("fr") == "en-US"
