"""Reading pages in tests as a browser would: forms (with their hidden CSRF token and
operation id), fields by label, tables, headings. Only the standard library."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any


@dataclass
class Field:
    name: str
    kind: str  # input type, "select" or "textarea"
    value: str = ""
    id: str = ""
    checked: bool = False
    options: list[tuple[str, str]] = field(default_factory=list)  # (value, text)


@dataclass
class PageForm:
    action: str
    method: str
    fields: list[Field] = field(default_factory=list)
    buttons: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # label text -> field id

    def field_by_label(self, label: str) -> Field:
        fid = self.labels.get(label)
        for f in self.fields:
            if fid and f.id == fid:
                return f
        raise KeyError(f"no field labelled {label!r}; labels: {list(self.labels)}")

    def data(self, values: dict[str, str] | None = None,
             by_name: dict[str, str | list[str]] | None = None) -> dict[str, Any]:
        """The body a browser would post: hidden and default values, then ``values``
        keyed by label text (a select's option text is turned into its value)."""
        body: dict[str, Any] = {}
        for f in self.fields:
            if f.kind in ("checkbox", "radio"):
                if f.checked:
                    if f.kind == "checkbox":
                        body.setdefault(f.name, []).append(f.value)
                    else:
                        body[f.name] = f.value
            elif f.kind == "select":
                body[f.name] = f.value or (f.options[0][0] if f.options else "")
            else:
                body[f.name] = f.value
        for label, value in (values or {}).items():
            f = self.field_by_label(label)
            if f.kind == "select":
                texts = {t: v for v, t in f.options}
                body[f.name] = texts.get(value, value)
            elif f.kind == "checkbox":
                body.setdefault(f.name, []).append(f.value)
            elif f.kind == "radio":
                body[f.name] = f.value
            else:
                body[f.name] = value
        for name, value in (by_name or {}).items():
            body[name] = value
        return body


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[PageForm] = []
        self.current: PageForm | None = None
        self.select: Field | None = None
        self.option: list[str] | None = None
        self.option_value = ""
        self.option_selected = False
        self.textarea: Field | None = None
        self.label_for: str | None = None
        self.label_text: list[str] = []
        self.button: list[str] | None = None
        self.h1: list[str] = []
        self.in_h1 = False
        self.ids: list[tuple[str, str]] = []  # every element id, with its tag
        self.label_targets: list[str] = []  # every label's ``for``, in or out of forms

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if a.get("id"):
            self.ids.append((a["id"], tag))
        if tag == "label" and a.get("for"):
            self.label_targets.append(a["for"])
        if tag == "h1":
            self.in_h1 = True
        if tag == "form":
            self.current = PageForm(a.get("action", ""), a.get("method", "get").lower())
            self.forms.append(self.current)
        if self.current is None:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("submit", "button"):
                return
            self.current.fields.append(Field(a["name"], kind, a.get("value", ""),
                                             a.get("id", ""), "checked" in a))
        elif tag == "select":
            self.select = Field(a.get("name", ""), "select", "", a.get("id", ""))
            self.current.fields.append(self.select)
        elif tag == "option" and self.select is not None:
            self.option = []
            self.option_value = a.get("value", "")
            self.option_selected = "selected" in a
        elif tag == "textarea":
            self.textarea = Field(a.get("name", ""), "textarea", "", a.get("id", ""))
            self.current.fields.append(self.textarea)
        elif tag == "label":
            self.label_for = a.get("for", "")
            self.label_text = []
        elif tag == "button":
            self.button = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "h1":
            self.in_h1 = False
        if tag == "form":
            self.current = None
        elif tag == "option" and self.select is not None and self.option is not None:
            text = " ".join("".join(self.option).split())
            self.select.options.append((self.option_value, text))
            if self.option_selected:
                self.select.value = self.option_value
            self.option = None
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None
        elif tag == "label" and self.current is not None and self.label_for is not None:
            self.current.labels[" ".join("".join(self.label_text).split())] = self.label_for
            self.label_for = None
        elif tag == "button" and self.current is not None and self.button is not None:
            self.current.buttons.append(" ".join("".join(self.button).split()))
            self.button = None

    def handle_data(self, data: str) -> None:
        if self.in_h1:
            self.h1.append(data)
        if self.option is not None:
            self.option.append(data)
        if self.textarea is not None:
            self.textarea.value += data
        if self.label_for is not None:
            self.label_text.append(data)
        if self.button is not None:
            self.button.append(data)


@dataclass
class Page:
    html: str
    forms: list[PageForm]
    h1: str

    def form(self, button: str) -> PageForm:
        """The form whose button reads ``button``."""
        found = [f for f in self.forms if button in f.buttons]
        assert found, f"no form with button {button!r}; buttons: {[f.buttons for f in self.forms]}"
        return found[0]

    @property
    def text(self) -> str:
        """The visible text, whitespace collapsed (no tags, no scripts)."""
        body = re.sub(r"<(script|style)\b.*?</\1>", " ", self.html, flags=re.S)
        body = re.sub(r"<[^>]+>", " ", body)
        import html as _html
        return " ".join(_html.unescape(body).split())


CONTROLS = frozenset({"input", "select", "textarea"})


def parse(html: str) -> Page:
    """The page, checked as a browser test finds fields: element ids are unique and
    every label names a form control (else ``get_by_label`` finds nothing to fill)."""
    parser = _Parser()
    parser.feed(html)
    seen: dict[str, str] = {}
    for element_id, tag in parser.ids:
        assert element_id not in seen, f"id {element_id!r} twice ({seen[element_id]}, {tag})"
        seen[element_id] = tag
    for target in parser.label_targets:
        assert seen.get(target) in CONTROLS, \
            f"a label for {target!r} names {seen.get(target) or 'nothing'}, not a field"
    return Page(html, parser.forms, " ".join("".join(parser.h1).split()))
