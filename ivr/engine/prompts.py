"""Prompts: localised text with {variable} placeholders, audio and pauses, turned into actions."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from .actions import Pause, Play, Prompt, Say
from .site import Flow

PLACEHOLDER = re.compile(r"\{([A-Za-z][A-Za-z0-9_-]{0,63})(?::(digits))?\}")


def fill(text: str, variables: Mapping[str, str]) -> str:
    """Replace {name} with the variable's value, and {name:digits} with its characters spaced out."""

    def one(match: re.Match[str]) -> str:
        value = variables.get(match.group(1), "")
        return " ".join(value) if match.group(2) else value

    return PLACEHOLDER.sub(one, text)


def placeholders(text: str) -> Iterator[str]:
    """The variable names a text refers to."""
    for match in PLACEHOLDER.finditer(text):
        yield match.group(1)


def parts(prompt: Any) -> list[Any]:
    """A prompt as a list of its parts (a prompt is one part or a list of parts)."""
    return list(prompt) if isinstance(prompt, list) else [prompt]


def texts(prompt: Any, with_audio: bool = False) -> Iterator[tuple[str, str]]:
    """Every (language or '', text) pair in a prompt, for validation; audio URLs too if asked."""
    for part in parts(prompt):
        if isinstance(part, str):
            yield "", part
        elif "text" in part:
            yield part["language"], part["text"]
        elif "play" in part:
            if with_audio:
                yield "", part["play"]
        elif "pause" not in part:
            yield from part.items()


def render(prompt: Any, flow: Flow, variables: Mapping[str, str]) -> list[Prompt]:
    """The actions that speak `prompt` in the caller's current language."""
    lang = variables.get("lang", flow.default_language)
    if lang not in flow.languages:
        lang = flow.default_language
    out: list[Prompt] = []
    for part in parts(prompt):
        speak_in = lang
        if isinstance(part, str):
            text = part
        elif "text" in part:
            text, speak_in = part["text"], part["language"]
        elif "play" in part:
            out.append(Play(fill(part["play"], variables)))
            continue
        elif "pause" in part:
            out.append(Pause(part["pause"]))
            continue
        else:
            # Text missing in the caller's language falls back to the default language's text, which
            # is then spoken with that language's voice (not read out by the caller's language voice).
            found = [code for code in (lang, flow.default_language) if part.get(code)]
            speak_in = found[0] if found else next(iter(part))
            text = part[speak_in]
        settings = flow.languages.get(speak_in) or flow.languages[lang]
        out.append(Say(fill(text, variables), voice=settings.get("voice"), language=settings["code"]))
    return out


def speech_language(flow: Flow, variables: Mapping[str, str]) -> str:
    """The language code speech recognition should listen for."""
    lang = variables.get("lang", flow.default_language)
    return flow.languages.get(lang, flow.languages[flow.default_language])["code"]
