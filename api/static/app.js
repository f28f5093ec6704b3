// The chat page: ask /ask, show the answer with its evidence and citations, open the cited
// article with the evidence highlighted. Every piece of text from the user or the corpus is
// inserted as a text node (textContent / createTextNode), never parsed as markup.
"use strict";

(() => {
  const STORE_KEY = "rag-chat/v1";
  const MAX_TURNS = 50;
  const PASSAGES_SHOWN = 3;

  const $ = (id) => document.getElementById(id);
  const form = $("ask-form");
  const input = $("question");
  const sendButton = $("send");
  const list = $("conversation");
  const hint = $("empty-hint");
  const panel = $("article-panel");
  const panelTitle = $("article-title");
  const panelMeta = $("article-meta");
  const panelBody = $("article-body");

  let turns = loadTurns();
  let busy = false;
  let articleTicket = 0;
  let panelOpener = null;

  // -- small helpers ---------------------------------------------------------------------
  function el(tag, opts = {}) {
    const node = document.createElement(tag);
    if (opts.className) node.className = opts.className;
    if (opts.testid) node.dataset.testid = opts.testid;
    if (opts.text != null) node.textContent = opts.text;
    for (const [k, v] of Object.entries(opts.attrs || {})) node.setAttribute(k, v);
    return node;
  }
  const text = (s) => document.createTextNode(s);
  const clamp = (x, lo, hi) => Math.max(lo, Math.min(hi, x));
  // The service counts offsets in code points (Python); JS strings count UTF-16 units.
  const codePoints = (s) => Array.from(s || "");
  const cut = (chars, a, b) => chars.slice(a, b).join("");
  const clip = (s, n) => {
    const chars = codePoints(s);
    return chars.length > n ? cut(chars, 0, n) + "…" : chars.join("");
  };
  const newId = () => Date.now().toString(36) + Math.random().toString(36).slice(2, 8);

  // "publication issue · author": what a chip shows after the title
  function sourceParts(c) {
    const parts = [];
    const pub = [c.publication, c.issue].filter(Boolean).join(" ");
    if (pub) parts.push(pub);
    if (c.author) parts.push(c.author);
    return parts;
  }
  const citeLine = (c) => [`《${c.title}》`, ...sourceParts(c)].join(" · ");

  function errorText(status, data) {
    const detail = data && data.detail;
    if (typeof detail === "string" && detail) return `出错了：${detail}`;
    if (status === 413) return "出错了：请求内容太长。";
    if (status >= 500) return "出错了：服务器内部错误，请稍后再试。";
    return `出错了：请求失败（HTTP ${status}）。`;
  }

  // -- the conversation in localStorage --------------------------------------------------
  function loadTurns() {
    try {
      const saved = JSON.parse(localStorage.getItem(STORE_KEY) || "[]");
      if (!Array.isArray(saved)) return [];
      return saved
        .filter((t) => t && typeof t.question === "string" && t.id)
        .map((t) =>
          t.state === "pending"
            ? { ...t, state: "error", error: "这个问题没有问完（页面已重新加载），请重新提问。" }
            : t,
        );
    } catch {
      return [];
    }
  }

  function saveTurns() {
    turns = turns.slice(-MAX_TURNS);
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify(turns));
    } catch {
      // storage full or disabled: the conversation still works, it just is not kept
    }
  }

  function slim(answer) {
    const { timings_ms: _t, best_guess: _b, ...rest } = answer;
    return { ...rest, passages: (answer.passages || []).slice(0, PASSAGES_SHOWN) };
  }

  // -- rendering -------------------------------------------------------------------------
  function renderAll() {
    list.replaceChildren(...turns.map(renderTurn));
    hint.hidden = turns.length > 0;
  }

  const turnNode = (id) => Array.from(list.children).find((li) => li.dataset.turn === id);

  function replaceTurn(turn) {
    const old = turnNode(turn.id);
    if (old) old.replaceWith(renderTurn(turn));
  }

  function renderTurn(turn) {
    const li = el("li", { className: "turn", attrs: { "data-turn": turn.id } });
    li.append(el("div", { className: "msg msg-question", testid: "msg-question", text: turn.question || "（空问题）" }));
    if (turn.state === "done" && turn.answer && turn.answer.understood_as) {
      // a follow-up completed from the conversation: say what was answered, as text
      li.append(el("div", { className: "understood", testid: "understood-as", text: `理解为：${turn.answer.understood_as}` }));
    }
    if (turn.state === "pending") {
      li.append(
        el("div", {
          className: "msg msg-pending",
          testid: "msg-pending",
          text: "正在查找答案…",
          attrs: { "aria-busy": "true" },
        }),
      );
    } else if (turn.state === "error") {
      li.append(el("div", { className: "msg msg-error", testid: "msg-error", text: turn.error, attrs: { role: "alert" } }));
    } else {
      li.append(renderAnswer(turn.answer));
    }
    return li;
  }

  function renderAnswer(a) {
    const box = el("div", { className: "msg msg-answer", testid: "msg-answer" });
    if (a.answer == null) {
      box.classList.add("is-abstain");
      box.append(renderAbstain(a));
      return box;
    }
    const answerLine = el("p", { className: "answer-text", testid: "answer-text" });
    if (a.doubtful) {  // answered below 0.5 confidence: a guess, and it says so
      box.classList.add("is-doubtful");
      answerLine.append(el("span", { className: "doubt-label", testid: "doubt-label", text: "可能是" }));
    }
    answerLine.append(text(a.answer));
    box.append(answerLine);
    if (a.evidence) box.append(renderEvidence(a.evidence));
    const pct = Math.round(clamp(Number(a.confidence) || 0, 0, 1) * 100);
    const doubt = a.doubtful ? "（不确定：更可能是错的，请核对出处）" : "";
    box.append(el("p", { className: "confidence", testid: "confidence", text: `置信度 ${pct}%${doubt}` }));
    const citations = a.citations || [];
    if (citations.length) {
      const row = el("div", { className: "citations", testid: "citations" });
      row.append(el("span", { className: "label", text: "出处：" }));
      for (const c of citations) {
        const chip = el("button", {
          className: "cite-chip",
          testid: "cite-chip",
          text: citeLine(c),
          attrs: { type: "button", "data-article-id": c.article_id, title: `打开原文：${c.source}` },
        });
        const ev = a.evidence;
        const focus =
          ev && ev.source === c.source
            ? { start: ev.start, end: ev.end, answerStart: ev.answer_start, answerEnd: ev.answer_end }
            : null;
        chip.addEventListener("click", () => openArticle(c.article_id, focus, chip));
        row.append(chip);
      }
      box.append(row);
    }
    return box;
  }

  function renderEvidence(ev) {
    const quote = el("blockquote", { className: "evidence", testid: "evidence" });
    const chars = codePoints(ev.text);
    if (ev.answer_start == null || ev.answer_end == null) {
      quote.append(text(ev.text));
      return quote;
    }
    const i = clamp(ev.answer_start - ev.start, 0, chars.length);
    const j = clamp(ev.answer_end - ev.start, i, chars.length);
    quote.append(text(cut(chars, 0, i)), el("mark", { text: cut(chars, i, j) }), text(cut(chars, j)));
    return quote;
  }

  function renderAbstain(a) {
    const box = el("div", { className: "abstain", testid: "abstain" });
    box.append(el("p", { className: "abstain-text", text: "语料中没有找到答案" }));
    const passages = (a.passages || []).slice(0, PASSAGES_SHOWN);
    if (!passages.length) return box;
    box.append(el("p", { className: "label", text: "最接近的段落：" }));
    const ol = el("ol", { className: "passages", testid: "passages" });
    for (const p of passages) {
      const li = el("li", { className: "passage", testid: "passage" });
      const open = el("button", {
        className: "passage-chip",
        testid: "passage-chip",
        text: `《${p.title || p.source}》`,
        attrs: { type: "button", "data-article-id": p.article_id || "" },
      });
      open.addEventListener("click", () => openArticle(p.article_id, { start: p.start, end: p.end }, open));
      li.append(open, el("p", { className: "passage-text", text: clip(p.text, 160) }));
      ol.append(li);
    }
    box.append(ol);
    return box;
  }

  // -- the article panel -----------------------------------------------------------------
  function showPanel(opener) {
    panelOpener = opener || null;
    if (panel.open) return;
    if (typeof panel.showModal === "function") panel.showModal();
    else panel.setAttribute("open", "");
  }

  function closePanel() {
    if (typeof panel.close === "function") panel.close();
    else panel.removeAttribute("open");
  }

  async function openArticle(id, focus, opener) {
    const ticket = ++articleTicket;
    panelTitle.textContent = "正在打开文章…";
    panelMeta.textContent = "";
    panelBody.replaceChildren();
    panel.setAttribute("aria-busy", "true");
    showPanel(opener);
    let art;
    try {
      const res = await fetch(`/v1/articles/${encodeURIComponent(id || "")}`);
      const data = await res.json().catch(() => null);
      if (!res.ok) throw new Error(errorText(res.status, data));
      art = data;
    } catch (e) {
      if (ticket !== articleTicket) return;
      panelTitle.textContent = "无法打开文章";
      panelBody.append(el("p", { className: "msg-error", text: e.message || "出错了：无法连接服务器。" }));
      panel.removeAttribute("aria-busy");
      return;
    }
    if (ticket !== articleTicket) return; // another chip was clicked meanwhile
    panel.removeAttribute("aria-busy");
    panelTitle.textContent = art.title;
    panelMeta.textContent = [...sourceParts(art), art.column, art.source].filter(Boolean).join(" · ");
    const mark = fillArticle(art, focus);
    if (mark) mark.scrollIntoView({ block: "center" });
    else panelBody.scrollTop = 0;
  }

  // The article's original text, with the focus span (source-file offsets) in a <mark>.
  function fillArticle(art, focus) {
    const chars = codePoints(art.original);
    const base = art.start;
    if (!focus || focus.end <= base || focus.start >= base + chars.length) {
      panelBody.append(text(art.original));
      return null;
    }
    const a = clamp(focus.start - base, 0, chars.length);
    const b = clamp(focus.end - base, a, chars.length);
    const mark = el("mark", { className: "evidence-mark", testid: "article-evidence" });
    if (focus.answerStart != null && focus.answerEnd != null) {
      const i = clamp(focus.answerStart - base, a, b);
      const j = clamp(focus.answerEnd - base, i, b);
      mark.append(
        text(cut(chars, a, i)),
        el("strong", { className: "answer-mark", testid: "article-answer", text: cut(chars, i, j) }),
        text(cut(chars, j, b)),
      );
    } else {
      mark.append(text(cut(chars, a, b)));
    }
    panelBody.append(text(cut(chars, 0, a)), mark, text(cut(chars, b)));
    return mark;
  }

  // -- asking ----------------------------------------------------------------------------
  function setBusy(on) {
    busy = on;
    sendButton.disabled = on;
    sendButton.textContent = on ? "查找中…" : "发送";
    form.setAttribute("aria-busy", String(on));
  }

  // The conversation the server completes a follow-up from (销售额呢？): the last answered
  // turns, as they were understood.
  const HISTORY_TURNS = 4;
  function historyBefore(turn) {
    return turns
      .filter((t) => t !== turn && t.state === "done" && t.answer)
      .slice(-HISTORY_TURNS)
      .map((t) => ({
        question: t.question,
        understood_as: t.answer.understood_as || null,
        answer: t.answer.answer == null ? null : String(t.answer.answer).slice(0, 500),
        answer_type: t.answer.answer_type || null,
        article_id: (t.answer.citations && t.answer.citations[0] && t.answer.citations[0].article_id) || null,
      }));
  }

  async function ask() {
    if (busy) return;
    const turn = { id: newId(), question: input.value.trim(), state: "pending" };
    turns.push(turn);
    input.value = "";
    setBusy(true);
    hint.hidden = true;
    const node = renderTurn(turn);
    list.append(node);
    node.scrollIntoView({ block: "end" });
    saveTurns();
    try {
      const res = await fetch("/v1/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ question: turn.question, history: historyBefore(turn) }),
      });
      const data = await res.json().catch(() => null);
      if (res.ok && data && typeof data === "object") {
        turn.state = "done";
        turn.answer = slim(data);
      } else {
        turn.state = "error";
        turn.error = errorText(res.status, data);
      }
    } catch {
      turn.state = "error";
      turn.error = "出错了：无法连接服务器，请检查网络后重试。";
    }
    replaceTurn(turn);
    saveTurns();
    setBusy(false);
    const done = turnNode(turn.id);
    if (done) done.scrollIntoView({ block: "nearest" });
    input.focus();
  }

  // -- the footer: which embedder and reader answer --------------------------------------
  function showComponent(node, label, component) {
    const runtime = component.backend ? `（${component.backend}）` : "";
    node.replaceChildren(text(`${label}：${component.name}${runtime}`));
    node.classList.toggle("is-offline", Boolean(component.offline));
    node.dataset.offline = String(Boolean(component.offline));
    if (component.offline) {
      node.append(el("span", { className: "badge", testid: "offline-badge", text: "离线", attrs: { title: "离线实现：没有加载模型" } }));
    }
    if (component.note) {  // why a fallback answers: shown as text, never as HTML
      node.append(el("span", { className: "fallback-note", testid: "fallback-note", text: `（备用：${component.note}）` }));
    }
  }

  async function loadHealth() {
    try {
      const res = await fetch("/v1/health");
      if (!res.ok) throw new Error(String(res.status));
      const h = await res.json();
      showComponent($("footer-embedder"), "检索模型", h.embedder);
      showComponent($("footer-reader"), "阅读模型", h.reader);
      $("footer-index").textContent = `索引：${h.article_count} 篇文章，${h.chunk_count} 段`;
    } catch {
      $("footer-embedder").textContent = "无法连接服务";
      $("footer-reader").textContent = "";
    }
  }

  // -- wiring ----------------------------------------------------------------------------
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    ask();
  });
  input.addEventListener("keydown", (e) => {
    // Enter sends, Shift+Enter is a new line; Enter that confirms an IME candidate does neither
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      ask();
    }
  });
  $("clear").addEventListener("click", () => {
    turns = [];
    saveTurns();
    renderAll();
    input.focus();
  });
  $("article-close").addEventListener("click", closePanel);
  panel.addEventListener("click", (e) => {
    if (e.target === panel) closePanel(); // a click on the backdrop
  });
  panel.addEventListener("close", () => {
    articleTicket++;
    if (panelOpener && document.contains(panelOpener)) panelOpener.focus();
    panelOpener = null;
  });

  renderAll();
  loadHealth();
})();
