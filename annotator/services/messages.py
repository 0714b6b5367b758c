"""Messages the services write in English that the web shows in the UI's language.

A `Text` is the English string itself (the CLI prints it, the API returns it, tests compare
it), and it keeps its template and values, so that `i18n.translated` can look the template up
in the catalog and fill in the values there. `N_` (a keyword `pybabel extract` knows) makes
one: `N_("no paragraphs")`, `N_("%(count)s bytes", count=n)`; `ngettext` the plural kind."""
from __future__ import annotations

from typing import Any, Self


class Text(str):
    """An English message that can be shown translated (see the module's docstring)."""

    template: str
    plural: str | None
    values: dict[str, Any]
    web: Text | None  # what a browser user is told instead (no command-line options)

    def __new__(cls, template: str, values: dict[str, Any], plural: str | None = None) -> Self:
        chosen = plural if plural is not None and values.get("num") != 1 else template
        self = super().__new__(cls, chosen % {k: str(v) for k, v in values.items()} if values else chosen)
        self.template, self.plural, self.values, self.web = template, plural, values, None
        return self

    def __getnewargs__(self) -> tuple:  # copy, deepcopy (dataclasses.asdict) and pickle
        return self.template, self.values, self.plural

    def on_web(self, text: Text) -> Text:
        """Say `text` instead to a browser user."""
        self.web = text
        return self


def N_(template: str, /, **values: Any) -> Text:  # the name pybabel looks for (a default keyword)
    """A translatable message; `%(name)s` placeholders take `values`."""
    return Text(template, values)


def ngettext(singular: str, plural: str, num: int, /, **values: Any) -> Text:
    """A translatable message with a count: `%(num)s` is the count."""
    return Text(singular, {"num": num, **values}, plural)


# separators for `joined`, translated too ("；" and "：" in Chinese)
SEMICOLON = N_("; ")
COLON = N_(": ")


def joined(*parts: str, separator: Text = SEMICOLON) -> Text:
    """Messages joined in one (each part, and the separator, translated on its own)."""
    return Text("%(separator)s".join(f"%(part{i})s" for i in range(len(parts))),
                {"separator": separator, **{f"part{i}": part for i, part in enumerate(parts)}})


def to_json(text: Any) -> Any:
    """A message as a JSON column keeps it: a Text as its template and values (to be shown
    in the reader's language later), anything else as its string."""
    if isinstance(text, Text):
        return {"template": text.template, "plural": text.plural,
                "values": {name: value if isinstance(value, int) else to_json(value)
                           for name, value in text.values.items()},
                "web": to_json(text.web) if text.web is not None else None}
    return str(text)


def from_json(kept: Any) -> Any:
    """A message kept by `to_json`, as a Text again (or the string)."""
    if not isinstance(kept, dict):
        return kept
    values = {name: from_json(value) for name, value in kept["values"].items()}
    text = Text(kept["template"], values, kept["plural"])
    return text.on_web(from_json(kept["web"])) if kept.get("web") else text
