"""Observation renderings of a page's elements.

* ``text``: one element per line, clickables in brackets (``[Back to Search]``, ``[B0ABC12345]``),
  option groups as ``color: [black] [white]`` with the chosen value noted, the search box as
  ``[Search]``: the format of the ReAct/AgentBench WebShop prompts.
* ``sep``: WebShop's ``text`` observation mode: the visible strings joined with `` [SEP] ``.
* ``text_rich``: WebShop's ``text_rich`` mode (``convert_html_to_text(simple=False)``): one
  visible string per line, buttons as ``[button] X [button_]``, option values indented, the
  chosen ones and the products opened since the last ``Back to Search`` as
  ``[clicked button] X [clicked button_]``, each product link on a line of its own after a blank
  one, and a ``You have clicked X.`` line at the top for each chosen option. Upstream also emits
  the templates' indentation whitespace as lines; those are left out.
* ``html``: a page in the structure of WebShop's templates (``#search_input``, ``.btn`` buttons,
  ``.product-link`` links, radio inputs for options), for agents that read HTML.
* ``url``: WebShop's ``url`` mode, the page's address alone (:meth:`Browser.url
  <agentrl.envs.webshop.pages.Browser.url>`); it needs the browser, not the elements, so the env
  renders it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from agentrl.envs.webshop.pages import Button, Element, OptionGroup, ProductLink, Text

#: Every observation mode: those rendered from a page's elements, then ``url``.
OBSERVATION_MODES = ("text", "sep", "text_rich", "html", "url")


def _text_line(element: Element) -> str:
    if isinstance(element, Text):
        return element.text
    if isinstance(element, Button):
        return f"[{element.label}]"
    if isinstance(element, ProductLink):
        return f"[{element.asin}]"
    if isinstance(element, OptionGroup):
        chosen = f"  (selected: {element.selected})" if element.selected else ""
        return f"{element.name}: " + " ".join(f"[{v}]" for v in element.values) + chosen
    return "[Search]"


def to_text(elements: Sequence[Element]) -> str:
    return "\n".join(_text_line(element) for element in elements)


def _visible_strings(element: Element) -> list[str]:
    if isinstance(element, Text):
        return [element.text]
    if isinstance(element, Button):
        return [element.label]
    if isinstance(element, ProductLink):
        return [element.asin]
    if isinstance(element, OptionGroup):
        return [element.name, *element.values]
    return ["Search"]


def to_sep(elements: Sequence[Element]) -> str:
    return " [SEP] ".join(s for element in elements for s in _visible_strings(element))


def _rich_button(label: str, clicked: bool = False) -> str:
    return f"[clicked button] {label} [clicked button_]" if clicked else f"[button] {label} [button_]"


def to_text_rich(elements: Sequence[Element]) -> str:
    clicked_notes = ""
    lines = []
    for element in elements:
        if isinstance(element, Button):
            lines.append(_rich_button(element.label))
        elif isinstance(element, ProductLink):
            lines.append("\n" + _rich_button(element.asin, element.visited))
        elif isinstance(element, OptionGroup):
            lines.append(element.name)
            for value in element.values:
                chosen = value == element.selected
                lines.append("  " + _rich_button(value, chosen))
                if chosen:  # upstream puts each note in front of everything read so far
                    clicked_notes = f"You have clicked {value}.\n" + clicked_notes
        elif isinstance(element, Text):
            lines.append(element.text)
        else:
            lines.append(_rich_button("Search"))
    return clicked_notes + "".join(line + "\n" for line in lines)


def _html_fragment(element: Element) -> str:
    if isinstance(element, Text):
        return f"<p>{escape(element.text)}</p>"
    if isinstance(element, Button):
        return f'<button type="submit" class="btn">{escape(element.label)}</button>'
    if isinstance(element, ProductLink):
        return f'<h4 class="product-asin"><a class="product-link">{escape(element.asin)}</a></h4>'
    if isinstance(element, OptionGroup):
        radios = "".join(
            f'<input type="radio" id="radio_{escape(element.name)}{i}" name="{escape(element.name)}" '
            f'value="{escape(value)}"{" checked" if value == element.selected else ""}>'
            f'<label for="radio_{escape(element.name)}{i}">{escape(value)}</label>'
            for i, value in enumerate(element.values)
        )
        heading = f"<h4>{escape(element.name)}</h4>"
        return f'<div class="option-group">{heading}<div class="radio-toolbar">{radios}</div></div>'
    return (
        '<form><input id="search_input" name="search_query" type="text" placeholder="Search...">'
        '<button type="submit" class="btn search-btn">Search</button></form>'
    )


def to_html(elements: Sequence[Element]) -> str:
    body = "\n".join(_html_fragment(element) for element in elements)
    return f"<!DOCTYPE html>\n<html>\n<head><title>WebShop</title></head>\n<body>\n{body}\n</body>\n</html>"


def check_observation_mode(mode: str) -> None:
    if mode not in OBSERVATION_MODES:
        raise ValueError(f"observation_mode must be one of {', '.join(OBSERVATION_MODES)}, got {mode!r}")


_RENDERERS: dict[str, Callable[[Sequence[Element]], str]] = {
    "text": to_text,
    "sep": to_sep,
    "text_rich": to_text_rich,
    "html": to_html,
}


def renderer(mode: str) -> Callable[[Sequence[Element]], str] | None:
    """The rendering function of an element mode; ``None`` for ``url``, which the env renders."""
    check_observation_mode(mode)
    return _RENDERERS.get(mode)
