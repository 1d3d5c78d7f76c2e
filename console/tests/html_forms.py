"""The POST forms of a page as a browser sees them: where they go, and what they would send untouched."""

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

# Input types a person types text into.
TEXT_INPUTS = {"text", "email", "url", "search", "tel", "number", "date", "password"}


@dataclass
class PageForm:
    action: str
    values: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)  # field name -> input type, or "textarea" / "select"

    def text_fields(self, *kinds: str) -> list[str]:
        return [name for name, kind in self.kinds.items() if kind in kinds]


class _FormParser(HTMLParser):
    def __init__(self, page_url: str):
        super().__init__()
        self.page_url = page_url
        self.forms: list[PageForm] = []
        self.current: PageForm | None = None
        self.textarea: str | None = None
        self.select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            if (attrs.get("method") or "get").lower() == "post":
                self.current = PageForm(action=urljoin(self.page_url, attrs.get("action") or ""))
                self.forms.append(self.current)
            return
        if self.current is None or not attrs.get("name") or attrs["name"] == "csrfmiddlewaretoken":
            return
        name = attrs["name"]
        if "disabled" in attrs:
            return  # a browser does not send it
        if tag == "input":
            kind = (attrs.get("type") or "text").lower()
            if kind in ("submit", "button", "reset", "file", "image"):
                return
            if kind in ("radio", "checkbox"):
                if "checked" in attrs:
                    self.current.values[name] = attrs.get("value") or "on"
                self.current.kinds.setdefault(name, kind)
                return
            self.current.values[name] = attrs.get("value") or ""
            self.current.kinds[name] = kind
        elif tag == "textarea":
            self.textarea = name
            self.current.values[name] = ""
            self.current.kinds[name] = "textarea"
        elif tag == "select":
            self.select = name
            self.current.kinds[name] = "select"
        elif tag == "option" and self.select and (self.select not in self.current.values or "selected" in attrs):
            self.current.values[self.select] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.current = None
        elif tag == "textarea":
            self.textarea = None
        elif tag == "select":
            self.select = None

    def handle_data(self, data):
        if self.current is not None and self.textarea:
            self.current.values[self.textarea] += data


def post_forms(html: str, page_url: str) -> list[PageForm]:
    parser = _FormParser(page_url)
    parser.feed(html)
    return parser.forms
