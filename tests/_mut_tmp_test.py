import pytest
import test_browser as tb
from test_browser import *  # noqa

JS = (tb.Path(tb.__file__).parents[1] / "api/static/app.js").read_text()
BAD = JS.replace(
    "if (opts.text != null) node.textContent = opts.text;",
    "if (opts.text != null) node.innerHTML = opts.text;",
).replace(
    "const text = (s) => document.createTextNode(s);",
    "const text = (s) => { const t = document.createElement('template'); t.innerHTML = s; return t.content; };",
)
assert BAD != JS


@pytest.fixture
def badjs(monkeypatch):
    orig = tb.open_page

    def patched(browser, base_url, **kw):
        real_new = browser.new_context

        def new_context(**o):
            c = real_new(**o)
            c.route(
                "**/static/app.js",
                lambda r: r.fulfill(body=BAD, content_type="application/javascript"),
            )
            return c

        monkeypatch.setattr(browser, "new_context", new_context)
        return orig(browser, base_url, **kw)

    monkeypatch.setattr(tb, "open_page", patched)


def test_mut_xss(badjs, browser, base_url):
    tb.test_markup_in_documents_and_questions_is_text_never_code(browser, base_url)
