"""The chat page in a real browser: Debian's chromium driven by Playwright.

The real server (uvicorn, in a thread, on 127.0.0.1 and a free port) serves an offline index
of a copy of the sample corpus. ``scripts/setup_browser.sh`` installs what this needs; when
the playwright package or ``/usr/bin/chromium`` is missing the module is skipped, unless
``RAG_REQUIRE_BROWSER=1`` (CI), which makes every test here fail with the reason instead.

Every test gets a fresh browser context (its own localStorage); requests to anything but the
test server are aborted and recorded, and so are page errors and JavaScript dialogs. The
run also takes a screenshot; with ``RAG_UPDATE_SCREENSHOT=1`` it replaces
``docs/screenshot.png``, the picture the README shows (a test run never changes tracked
files otherwise).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from api.app import create_app
from rag.indexing import build_index

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REQUIRE = os.environ.get("RAG_REQUIRE_BROWSER") == "1"
DOCS_SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "screenshot.png"
WAIT_MS = 5_000  # the longest any single wait in the page may take
KEY = "browser-test-key-0123456789"


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (run scripts/setup_browser.sh)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (run scripts/setup_browser.sh: Debian package chromium)"
    return None


MISSING = _missing()
if MISSING and not REQUIRE:
    pytest.skip(MISSING, allow_module_level=True)

pytestmark = pytest.mark.slow

if not MISSING:
    from playwright.sync_api import Browser, Page, expect, sync_playwright

# Stated plainly in 004_…: "穿越…的沙漠公路，全长522公里，…"
QUESTION = "塔克拉玛干沙漠公路全长多少公里？"
ANSWER = "522公里"
TITLE = "我国首条零碳沙漠公路生产绿电破500万度"
ARTICLE_SNIPPET = "塔里木油田沙漠公路“零碳”示范工程"
# Deep in a long article (about 2,450 of 6,070 characters in): the panel has to scroll to it.
DEEP_QUESTION = "市级机关工委向多少家市级机关工会划拨补助经费？"
DEEP_ANSWER = "91家"
DEEP_TITLE = "以高质量机关党建促进天津高质量发展"
DEEP_SNIPPET = "高质量发展是新时代的硬道理"  # the article's first paragraph
SECOND_QUESTION = "古文化街被誉为什么？"
SECOND_ANSWER = "津门故里"
# Nothing in the corpus talks about Mars.
UNANSWERABLE = "火星上第一家咖啡馆的老板叫什么名字？"
# An invented article carrying markup around its one distinctive fact.
XSS_SCRIPT = "<script>window.__xss=1</script>"
XSS_IMG = '<img src=x onerror="window.__xss=2">'
XSS_TITLE = "青石镇萤火虫博物馆落成"
XSS_ARTICLE = (
    f"{XSS_TITLE}\n\n"
    f"本报讯 青石镇萤火虫博物馆近日落成开放。{XSS_SCRIPT}馆内共收藏萤火虫标本3721件{XSS_IMG}，"
    "是全省同类场馆中规模最大的一座。\n"
    "馆长周文澜介绍，博物馆每晚七点至九点开放夜间观萤活动。\n"
)
XSS_QUESTION = "青石镇萤火虫博物馆共收藏萤火虫标本多少件？"
XSS_ANSWER = "3721件"
XSS_TYPED = '<img src=x onerror="window.__xss=3;alert(3)">这是什么？'


# -- the server -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def site(tmp_path_factory, corpus_dir) -> dict[str, Path]:
    if MISSING:  # only with RAG_REQUIRE_BROWSER=1: otherwise the module was skipped
        pytest.fail(f"RAG_REQUIRE_BROWSER=1 and {MISSING}", pytrace=False)
    root = tmp_path_factory.mktemp("browser")
    corpus = root / "corpus"
    shutil.copytree(corpus_dir, corpus)
    build_index(corpus, root / "index", embedder="offline")
    return {"corpus": corpus, "index": root / "index"}


@pytest.fixture(scope="module")
def base_url(site) -> str:
    """The real service, over HTTP on 127.0.0.1, for the whole module."""
    import uvicorn

    app = create_app(site["index"], site["corpus"], reader="offline", api_key=KEY)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # a free port, held from here on: no race for it
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            pytest.fail("the test server did not answer /health within 20 s")
        time.sleep(0.05)
    yield url
    server.should_exit = True
    thread.join(timeout=5)
    sock.close()


# -- the browser ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser(base_url) -> Browser:
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Watch:
    """What a page did that it should not: page errors, dialogs, requests elsewhere."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.foreign: list[str] = []

    def check(self) -> None:
        assert self.dialogs == [], f"JavaScript dialogs fired: {self.dialogs}"
        assert self.errors == [], f"errors in the page: {self.errors}"
        assert self.foreign == [], f"requests left 127.0.0.1: {self.foreign}"


def open_page(browser: Browser, base_url: str, width=1100, height=800, **context_options):
    """A fresh context and page on the chat page, with its misbehaviour recorded."""
    context = browser.new_context(
        viewport={"width": width, "height": height}, locale="zh-CN", **context_options
    )
    context.set_default_timeout(WAIT_MS)
    watch = Watch()
    here = urlsplit(base_url).netloc

    def route(r):
        if urlsplit(r.request.url).netloc == here:
            r.fallback()
        else:
            watch.foreign.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("pageerror", lambda e: watch.errors.append(str(e)))

    def on_dialog(d):
        watch.dialogs.append(f"{d.type}: {d.message}")
        d.dismiss()

    page.on("dialog", on_dialog)
    page.goto(base_url + "/")
    expect(page.locator("#footer-index")).not_to_be_empty()  # /health answered: app.js ran
    return context, page, watch


@pytest.fixture
def desk(browser, base_url):
    context, page, watch = open_page(browser, base_url)
    yield page
    context.close()
    watch.check()


def ask(page: Page, question: str):
    """Type a question, press Enter, wait for its answer; the last turn's answer box."""
    turns = page.locator("#conversation > li")
    before = turns.count()
    page.locator("#question").fill(question)
    page.locator("#question").press("Enter")
    expect(turns).to_have_count(before + 1)
    turn = turns.nth(before)
    expect(turn.locator(".msg-question")).to_have_text(question.strip())
    expect(turn.locator(".msg-answer, .msg-error")).to_have_count(1)
    expect(turn.locator(".msg-error")).to_have_count(0)
    expect(page.locator("#send")).to_be_enabled()
    return turn.locator(".msg-answer")


def in_scroll_box(page: Page, selector: str) -> dict:
    """Where ``selector`` sits against its nearest scrolling ancestor and the viewport."""
    return page.evaluate(
        """(sel) => {
            const el = document.querySelector(sel);
            let box = el.parentElement;
            while (box && box !== document.body) {
                const s = getComputedStyle(box);
                if (/(auto|scroll)/.test(s.overflowY) && box.scrollHeight > box.clientHeight) break;
                box = box.parentElement;
            }
            if (box === document.body) box = null;
            const r = el.getBoundingClientRect();
            const b = box ? box.getBoundingClientRect() : {top: 0, bottom: innerHeight};
            const seen = Math.min(r.bottom, b.bottom, innerHeight) - Math.max(r.top, b.top, 0);
            return {seen, height: r.height, boxHeight: Math.min(b.bottom, innerHeight) - b.top,
                    scrolled: box ? box.scrollTop : 0, box: box ? box.id || box.tagName : null};
        }""",
        selector,
    )


def cjk_fonts() -> list[str]:
    """The font families fontconfig (which chromium uses) has for Chinese."""
    try:
        out = subprocess.run(
            ["fc-list", ":lang=zh", "family"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line for line in out.splitlines() if line.strip()]


# -- tests ------------------------------------------------------------------------------
def test_answer_shows_evidence_and_citation_and_screenshot(desk, tmp_path):
    answer = ask(desk, QUESTION)
    expect(answer.locator(".answer-text")).to_have_text(ANSWER)
    assert answer.locator(".answer-text").inner_text().strip()
    expect(answer.locator(".evidence mark")).to_have_text(ANSWER)
    expect(answer.locator(".cite-chip").first).to_contain_text(f"《{TITLE}》")

    second = ask(desk, SECOND_QUESTION)
    expect(second.locator(".answer-text")).to_have_text(SECOND_ANSWER)
    expect(second.locator(".evidence mark")).to_have_text(SECOND_ANSWER)
    assert cjk_fonts(), "no CJK font (fc-list :lang=zh): the screenshot would show boxes"
    desk.evaluate("document.fonts.ready")
    shot = DOCS_SCREENSHOT if os.environ.get("RAG_UPDATE_SCREENSHOT") else tmp_path / "page.png"
    desk.screenshot(path=str(shot), full_page=False, animations="disabled")
    assert shot.stat().st_size > 10_000


def test_citation_chip_opens_the_article_with_the_evidence_in_view(desk):
    answer = ask(desk, DEEP_QUESTION)
    expect(answer.locator(".answer-text")).to_have_text(DEEP_ANSWER)
    evidence = answer.locator(".evidence").inner_text().strip()
    panel = desk.locator("#article-panel")
    expect(panel).not_to_have_attribute("open", "")
    answer.locator(".cite-chip").first.click()
    expect(panel).to_have_attribute("open", "")
    expect(desk.locator("#article-title")).to_have_text(DEEP_TITLE)
    expect(desk.locator("#article-body")).to_contain_text(DEEP_SNIPPET)
    mark = desk.locator("#article-panel mark")
    expect(mark).to_have_count(1)
    expect(mark).to_have_text(evidence)
    expect(mark.locator("strong")).to_have_text(DEEP_ANSWER)
    expect(mark).to_be_in_viewport()
    where = in_scroll_box(desk, "#article-panel mark")
    assert where["box"] is not None and where["scrolled"] > 0, where  # it had to scroll
    assert where["seen"] >= min(where["height"], where["boxHeight"]) - 1, where

    desk.locator("#article-close").click()  # a short article opens scrolled to its top
    answer = ask(desk, QUESTION)
    answer.locator(".cite-chip").first.click()
    expect(desk.locator("#article-title")).to_have_text(TITLE)
    expect(desk.locator("#article-body")).to_contain_text(ARTICLE_SNIPPET)
    expect(desk.locator("#article-panel mark")).to_have_text(
        answer.locator(".evidence").inner_text().strip()
    )
    expect(desk.locator("#article-panel mark")).to_be_in_viewport()


def test_keyboard_opens_and_closes_the_article(desk):
    answer = ask(desk, DEEP_QUESTION)
    chip = answer.locator(".cite-chip").first
    panel = desk.locator("#article-panel")
    # the chip comes just before the question box in the tab order: walk back with Shift+Tab
    desk.locator("#question").focus()
    for _ in range(5):
        if chip.evaluate("el => el === document.activeElement"):
            break
        desk.keyboard.press("Shift+Tab")
    expect(chip).to_be_focused()
    desk.keyboard.press("Enter")
    expect(panel).to_have_attribute("open", "")
    expect(desk.locator("#article-title")).to_have_text(DEEP_TITLE)
    expect(desk.locator("#article-panel mark")).to_be_in_viewport()
    desk.keyboard.press("Escape")
    expect(panel).not_to_have_attribute("open", "")
    expect(panel).to_be_hidden()
    expect(chip).to_be_focused()  # focus goes back to the chip that opened the panel


def test_unanswerable_question_abstains_with_closest_passages(desk):
    answer = ask(desk, UNANSWERABLE)
    expect(answer.locator(".abstain")).to_be_visible()
    expect(answer.locator(".abstain")).to_contain_text("语料中没有找到答案")
    expect(answer.locator(".answer-text")).to_have_count(0)
    assert answer.locator(".passage").count() >= 1
    expect(answer.locator(".passage-text").first).not_to_be_empty()


def test_markup_in_documents_and_questions_is_text_never_code(browser, base_url):
    # the file stays in the module's temporary corpus; no later test asks about its fact
    r = httpx.post(
        f"{base_url}/documents",
        files=[("files", ("萤火虫博物馆.txt", XSS_ARTICLE.encode("utf-8"), "text/plain"))],
        headers={"X-API-Key": KEY},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    # without the page's CSP, so markup slipping into the DOM would run, not be blocked
    context, page, watch = open_page(browser, base_url, bypass_csp=True)
    try:
        answer = ask(page, XSS_QUESTION)
        expect(answer.locator(".answer-text")).to_have_text(XSS_ANSWER)
        evidence = answer.locator(".evidence")
        expect(evidence).to_contain_text(XSS_SCRIPT)
        expect(evidence).to_contain_text(XSS_IMG)
        expect(answer.locator(".evidence mark")).to_have_text(XSS_ANSWER)
        answer.locator(".cite-chip").first.click()
        expect(page.locator("#article-panel")).to_have_attribute("open", "")
        expect(page.locator("#article-title")).to_have_text(XSS_TITLE)
        expect(page.locator("#article-panel mark")).to_contain_text(XSS_SCRIPT)
        expect(page.locator("#article-panel mark")).to_be_in_viewport()
        expect(page.get_by_text("<script>window.__xss=1").last).to_be_visible()
        page.keyboard.press("Escape")

        typed = ask(page, XSS_TYPED)
        expect(page.locator(".msg-question").last).to_have_text(XSS_TYPED)
        expect(typed).to_have_count(1)
        page.wait_for_timeout(200)  # an onerror would fire as soon as the image failed
        assert page.evaluate("typeof window.__xss") == "undefined"
        assert page.locator("img").count() == 0
        assert page.locator("script:not([src])").count() == 0
        assert page.evaluate("document.querySelectorAll('img[src=x]').length") == 0
    finally:
        context.close()
    watch.check()


def test_conversation_survives_a_reload_and_clear_empties_it(desk):
    ask(desk, QUESTION)
    ask(desk, UNANSWERABLE)
    desk.reload()
    turns = desk.locator("#conversation > li")
    expect(turns).to_have_count(2)
    expect(turns.nth(0).locator(".msg-question")).to_have_text(QUESTION)
    expect(turns.nth(0).locator(".answer-text")).to_have_text(ANSWER)
    expect(turns.nth(0).locator(".evidence mark")).to_have_text(ANSWER)
    expect(turns.nth(1).locator(".abstain")).to_be_visible()
    expect(desk.locator("#empty-hint")).to_be_hidden()

    desk.locator("#clear").click()
    expect(turns).to_have_count(0)
    expect(desk.locator("#empty-hint")).to_be_visible()
    desk.reload()
    expect(desk.locator("#footer-index")).not_to_be_empty()
    expect(turns).to_have_count(0)


def test_phone_width_has_no_horizontal_scroll(browser, base_url):
    context, page, watch = open_page(browser, base_url, width=375, height=740)
    try:
        ask(page, QUESTION)  # an answer with its evidence and a long citation chip
        ask(page, UNANSWERABLE)
        for sel in ("#question", "#send"):
            expect(page.locator(sel)).to_be_visible()
            expect(page.locator(sel)).to_be_in_viewport()
            box = page.locator(sel).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375 + 1, (sel, box)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375 + 1, f"the page is {width}px wide at a 375px viewport"
    finally:
        context.close()
    watch.check()


def test_footer_names_the_embedder_and_reader(desk, base_url):
    health = httpx.get(f"{base_url}/health", timeout=5).json()
    expect(desk.locator("#footer-embedder")).to_contain_text(health["embedder"]["name"])
    expect(desk.locator("#footer-reader")).to_contain_text(health["reader"]["name"])
    expect(desk.locator("#footer")).to_contain_text(f"{health['article_count']} 篇文章")
    if health["embedder"]["offline"]:
        expect(desk.locator("#footer-embedder [data-testid=offline-badge]")).to_be_visible()


@contextmanager
def page_answered_by(browser: Browser, base_url: str, path: str, body: dict):
    """The chat page with ``path`` (``/health``, ``/ask``) answered by ``body`` instead of the
    server: to show what the page does with answers the sample corpus does not produce."""
    context = browser.new_context(locale="zh-CN")
    context.set_default_timeout(WAIT_MS)
    payload = json.dumps(body)
    context.route(
        f"**{path}",
        lambda r: r.fulfill(status=200, content_type="application/json", body=payload),
    )
    try:
        page = context.new_page()
        page.goto(base_url + "/")
        yield page
    finally:
        context.close()


def test_footer_says_why_a_fallback_reader_answers(browser, base_url):
    """A reader standing in for another carries a note (/health); the footer shows it, as
    text: markup in it is shown, never run."""
    health = httpx.get(f"{base_url}/health", timeout=5).json()
    note = "the neural reader is not used: <b>adapter</b> missing"
    health["reader"]["note"] = note
    with page_answered_by(browser, base_url, "/health", health) as page:
        expect(page.locator("#footer-reader [data-testid=fallback-note]")).to_contain_text(note)
        assert page.locator("#footer-reader b").count() == 0


def test_a_doubtful_answer_looks_like_a_guess(browser, base_url):
    """An answer under 0.5 confidence reads "可能是 …" with its confidence and a warning; a
    confident one does not."""
    question = "天津港2023年的集装箱航线有多少条？"
    real = httpx.post(f"{base_url}/ask", json={"question": question}, timeout=30).json()
    assert real["answer"] and real["doubtful"] is False
    doubtful = {**real, "confidence": 0.44, "doubtful": True}
    with page_answered_by(browser, base_url, "/ask", doubtful) as page:
        box = ask(page, question)
        expect(box).to_have_class(re.compile("is-doubtful"))
        expect(box.locator("[data-testid=doubt-label]")).to_have_text("可能是")
        expect(box.locator("[data-testid=answer-text]")).to_contain_text(real["answer"])
        expect(box.locator("[data-testid=confidence]")).to_contain_text("置信度 44%（不确定")


def test_a_three_turn_chat_completes_follow_ups_and_shows_how(desk):
    """A question, then two follow-ups that only make sense after it: the page sends the
    conversation, the service completes each (理解为：…, as text), and answers from the same
    article."""
    first = ask(desk, "天津港2023年集装箱吞吐量突破了多少？")
    expect(first.locator(".answer-text")).to_have_text("2218万标准箱")
    turns = desk.locator("#conversation > li")
    expect(turns.nth(0).get_by_test_id("understood-as")).to_have_count(0)  # stood alone
    second = ask(desk, "航线呢？")
    expect(turns.nth(1).get_by_test_id("understood-as")).to_have_text(
        "理解为：天津港2023年航线多少？"
    )
    expect(second.locator(".answer-text")).to_have_text("145条")
    third = ask(desk, "它搭建了什么平台？")
    expect(turns.nth(2).get_by_test_id("understood-as")).to_contain_text("理解为：天津港")
    expect(third.get_by_test_id("cite-chip").first).to_contain_text("对外开放")
    desk.reload()  # the conversation and what each turn was understood as are kept
    expect(turns.nth(1).get_by_test_id("understood-as")).to_have_text(
        "理解为：天津港2023年航线多少？"
    )
