// spanwise ui: the trace list and the trace view over the JSON API under /api/.
// Routes live in the URL hash: #/?filter=&sort=&order=&page= and #/trace/<id>?span=<hex>.
"use strict";

const PAGE = 50;
const LONG = 400; // strings longer than this are cut, with a button for the whole text
const $ = (sel) => document.querySelector(sel);

let generation = -1;
let knownIds = null; // trace ids of the list shown last, to mark new rows
let current = null; // the trace shown in the trace view
let loading = false;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function route() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, q] = hash.split("?");
  return { path, params: new URLSearchParams(q || "") };
}

function go(path, params) {
  const q = params && params.toString();
  location.hash = "#" + path + (q ? "?" + q : "");
}

async function getJson(url) {
  const r = await fetch(url, { cache: "no-store" });
  const body = await r.json().catch(() => ({ error: "not JSON" }));
  return { ok: r.ok, status: r.status, body };
}

// ---- formatting ----

function fmtDuration(ns) {
  if (ns === null || ns === undefined) return "–";
  if (ns < 1e3) return ns + " ns";
  if (ns < 1e6) return (ns / 1e3).toFixed(1) + " µs";
  if (ns < 1e9) return (ns / 1e6).toFixed(ns < 1e7 ? 2 : 1) + " ms";
  return (ns / 1e9).toFixed(2) + " s";
}

function fmtTime(iso) {
  return iso.replace("T", " ").replace(/\.(\d{3})Z$/, ".$1");
}

function fmtTokens(t) {
  if (!t) return "–";
  const n = (k) => (t[k] === undefined ? "?" : t[k]);
  return `${n("total_tokens")}`;
}

function tokensTitle(t) {
  return t ? `${t.input_tokens ?? "?"} in, ${t.output_tokens ?? "?"} out, ${t.total_tokens ?? "?"} total` : "";
}

const ICONS = {
  LLM: "L", CHAT_MODEL: "C", TOOL: "T", AGENT: "A", RETRIEVER: "R", CHAIN: "⛓",
  EMBEDDING: "E", PARSER: "P", RERANKER: "Rr", MEMORY: "M", GUARDRAIL: "G", EVALUATOR: "Ev",
  WORKFLOW: "W", TASK: "Tk", UNKNOWN: "·",
};

function icon(type) {
  return el("span", { class: "icon t-" + type, title: type, "data-type": type }, ICONS[type] || type.slice(0, 2));
}

function stateBadge(state) {
  return el("span", { class: "state state-" + state }, state === "IN_PROGRESS" ? "OPEN" : state);
}

// ---- JSON viewer: collapsible, long strings cut with a button for the whole text ----

function longText(s, cls) {
  if (s.length <= LONG) return el("span", { class: cls }, s);
  const span = el("span", { class: cls }, s.slice(0, LONG) + "…");
  const btn = el("button", {
    class: "more", type: "button", title: "show the whole value",
    onclick: (ev) => { ev.stopPropagation(); span.textContent = s; btn.remove(); },
  }, `show all ${s.length} chars`);
  return el("span", {}, span, btn);
}

function scalar(v) {
  if (v === null) return el("span", { class: "z" }, "null");
  if (typeof v === "string") return longText(JSON.stringify(v), "s");
  if (typeof v === "number") return el("span", { class: "n" }, String(v));
  if (typeof v === "boolean") return el("span", { class: "b" }, String(v));
  return el("span", {}, String(v));
}

function jsonNode(key, v, depth) {
  const label = key === null ? [] : [el("span", { class: "k" }, key), ": "];
  if (v !== null && typeof v === "object") {
    const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x]) : Object.entries(v);
    const brackets = Array.isArray(v) ? ["[", "]"] : ["{", "}"];
    if (entries.length === 0) return el("div", { class: "kv" }, ...label, brackets.join(""));
    const noun = (Array.isArray(v) ? "item" : "key") + (entries.length === 1 ? "" : "s");
    const d = el("details", depth < 4 ? { open: true } : {},
      el("summary", {}, ...label, `${brackets[0]} ${entries.length} ${noun} ${brackets[1]}`));
    for (const [k, x] of entries) d.append(jsonNode(k, x, depth + 1));
    return d;
  }
  return el("div", { class: "kv" }, ...label, scalar(v));
}

function jsonView(v) {
  return el("div", { class: "json" }, jsonNode(null, v, 0));
}

// ---- list ----

function listParams() {
  const { params } = route();
  return {
    filter: params.get("filter") || "",
    sort: params.get("sort") || "start",
    order: params.get("order") || "desc",
    page: Math.max(0, parseInt(params.get("page") || "0", 10) || 0),
  };
}

function setListParams(p) {
  const q = new URLSearchParams();
  if (p.filter) q.set("filter", p.filter);
  if (p.sort !== "start") q.set("sort", p.sort);
  if (p.order !== "desc") q.set("order", p.order);
  if (p.page) q.set("page", p.page);
  go("/", q);
}

async function showList() {
  $("#trace-view").hidden = true;
  $("#list-view").hidden = false;
  current = null;
  const p = listParams();
  if (document.activeElement !== $("#filter")) $("#filter").value = p.filter;
  const q = new URLSearchParams({ filter: p.filter, sort: p.sort, order: p.order, offset: p.page * PAGE, limit: PAGE });
  const r = await getJson("/api/traces?" + q);
  if (!r.ok) {
    showFilterError(r.body);
    return;
  }
  showFilterError(null);
  renderList(r.body, p);
  renderFooter(r.body.status);
}

function showFilterError(body) {
  const box = $("#filter-error");
  if (!body) {
    box.hidden = true;
    $("#filter").classList.remove("invalid");
    return;
  }
  const text = body.display || body.error;
  const fresh = box.hidden || box.textContent !== text;
  box.hidden = false;
  box.textContent = text;
  $("#filter").classList.add("invalid");
  $("#traces tbody").replaceChildren();
  $("#page-info").textContent = "";
  // The cursor goes to the error once, not again on every live refresh.
  if (fresh && typeof body.position === "number") {
    const input = $("#filter");
    input.focus();
    input.setSelectionRange(body.position, body.position);
  }
}

function previewCell(row, field) {
  const text = row[field + "_preview"];
  const td = el("td", { class: "preview " + field }, text);
  if (row[field + "_truncated"]) {
    td.append(el("button", {
      class: "more", type: "button", title: "show the whole preview",
      onclick: async (ev) => {
        ev.stopPropagation();
        const r = await getJson("/api/traces/" + row.trace_id);
        if (r.ok) td.textContent = r.body[field + "_preview"] || "";
      },
    }, "more"));
  }
  return td;
}

function renderList(data, p) {
  for (const th of document.querySelectorAll("#traces th[data-sort]")) {
    th.classList.toggle("sorted", th.dataset.sort === p.sort);
    th.classList.toggle("asc", th.dataset.sort === p.sort && p.order === "asc");
  }
  const tbody = $("#traces tbody");
  tbody.replaceChildren();
  const ids = new Set();
  for (const row of data.traces) {
    ids.add(row.trace_id);
    const tags = Object.entries(row.tags).map(([k, v]) => el("span", { class: "tag" }, `${k}=${v}`));
    const tr = el("tr", {
      "data-trace-id": row.trace_id,
      class: knownIds && !knownIds.has(row.trace_id) ? "fresh" : null,
      onclick: () => go("/trace/" + row.trace_id),
    },
      el("td", { class: "time" }, fmtTime(row.request_time)),
      el("td", { class: "name" }, row.name || "–"),
      el("td", { class: "num duration" }, fmtDuration(row.duration_ns)),
      el("td", { class: "status" }, stateBadge(row.state)),
      el("td", { class: "num spans" }, row.spans),
      el("td", { class: "num tokens", title: tokensTitle(row.tokens) }, fmtTokens(row.tokens)),
      previewCell(row, "request"),
      previewCell(row, "response"),
      el("td", { class: "tags" }, tags));
    tbody.append(tr);
  }
  knownIds = ids;
  $("#empty").hidden = data.traces.length > 0;
  $("#empty").textContent = data.filter ? "No traces match the filter." : "No traces yet.";
  const from = data.total ? data.offset + 1 : 0;
  const to = data.offset + data.traces.length;
  $("#page-info").textContent = `${from}–${to} of ${data.total}`;
  $("#prev").disabled = p.page === 0;
  $("#next").disabled = to >= data.total;
}

// ---- trace view ----

async function showTrace(id, params) {
  $("#list-view").hidden = true;
  $("#trace-view").hidden = false;
  const r = await getJson("/api/traces/" + encodeURIComponent(id));
  if (!r.ok) {
    $("#trace-head").replaceChildren(el("p", {}, r.body.error || "cannot load the trace"), el("a", { href: "#/" }, "back to the list"));
    $("#span-rows").replaceChildren();
    $("#detail").replaceChildren();
    return;
  }
  const t = r.body;
  const same = current && current.trace_id === t.trace_id && current.changed === t.changed;
  current = t;
  if (!same) renderTrace(t);
  const wanted = params.get("span");
  const span = t.spans.find((s) => s.span_id === wanted) || t.spans[0];
  if (span) selectSpan(span);
}

function renderTrace(t) {
  const tags = Object.entries(t.tags).filter(([k]) => !k.startsWith("mlflow.")).map(([k, v]) => el("span", { class: "tag" }, `${k}=${v}`));
  const meta = t.metadata || {};
  $("#trace-head").replaceChildren(
    el("a", { href: "#/", class: "back" }, "← traces"), el("br"),
    el("h1", {}, t.name || t.trace_id), stateBadge(t.state),
    el("div", { class: "facts" },
      el("span", {}, t.trace_id),
      el("span", {}, fmtTime(t.request_time)),
      el("span", {}, "duration " + fmtDuration(t.duration_ns)),
      el("span", {}, t.spans.length + " spans"),
      t.tokens ? el("span", { class: "trace-tokens" }, "tokens: " + tokensTitle(t.tokens)) : null,
      meta["mlflow.trace.session"] ? el("span", {}, "session " + meta["mlflow.trace.session"]) : null,
      meta["mlflow.trace.user"] ? el("span", {}, "user " + meta["mlflow.trace.user"]) : null,
      tags));
  const total = Math.max(t.span_ns, 1);
  $("#scale").textContent = fmtDuration(t.span_ns);
  const rows = t.spans.map((s) => {
    const end = s.end_ns === null ? t.span_ns : s.end_ns;
    const left = (s.start_ns / total) * 100;
    const width = ((end - s.start_ns) / total) * 100;
    const cls = ["bar", s.status.code === "ERROR" ? "error" : null, s.end_ns === null ? "open" : null].filter(Boolean).join(" ");
    return el("div", {
      class: "span-row" + (s.status.code === "ERROR" ? " error" : ""),
      "data-span-id": s.span_id, "data-depth": s.depth,
      onclick: () => {
        const q = new URLSearchParams({ span: s.span_id });
        go("/trace/" + t.trace_id, q);
      },
    },
      el("div", { class: "span-name", style: `padding-left:${s.depth * 16}px` },
        icon(s.type), el("span", { class: "label" }, s.name),
        el("span", { class: "dur" }, s.end_ns === null ? "open" : fmtDuration(s.end_ns - s.start_ns))),
      el("div", { class: "track" },
        el("div", {
          class: cls, title: `${s.name}: ${fmtDuration(s.start_ns)} + ${s.end_ns === null ? "open" : fmtDuration(end - s.start_ns)}`,
          "data-left": left.toFixed(4), "data-width": width.toFixed(4),
          style: `left:${left}%;width:${width}%`,
        })));
  });
  $("#span-rows").replaceChildren(...rows);
}

function selectSpan(s) {
  for (const row of document.querySelectorAll(".span-row")) row.classList.toggle("selected", row.dataset.spanId === s.span_id);
  const d = $("#detail");
  const attrs = s.attributes || {};
  const parts = [
    el("h2", {}, icon(s.type), s.name, el("span", { class: "muted" }, s.type)),
    el("div", { class: "facts" },
      el("span", {}, "status " + s.status.code),
      el("span", {}, "start +" + fmtDuration(s.start_ns)),
      el("span", {}, "duration " + (s.end_ns === null ? "open" : fmtDuration(s.end_ns - s.start_ns))),
      attrs["mlflow.chat.tokenUsage"] ? el("span", { class: "span-tokens" }, "tokens: " + tokensTitle(attrs["mlflow.chat.tokenUsage"])) : null,
      attrs["mlflow.llm.model"] ? el("span", {}, "model " + attrs["mlflow.llm.model"]) : null),
    s.status.message ? el("div", { class: "status-msg" }, s.status.message) : null,
  ];
  const chat = chatView(s);
  if (chat) parts.push(el("h3", {}, "Chat"), chat);
  parts.push(el("h3", {}, "Inputs"), el("div", { id: "inputs" }, s.inputs === null ? el("span", { class: "muted" }, "none") : jsonView(s.inputs)));
  parts.push(el("h3", {}, "Outputs"), el("div", { id: "outputs" }, s.outputs === null ? el("span", { class: "muted" }, "none") : jsonView(s.outputs)));
  const exceptions = s.events.filter((e) => e.name === "exception");
  const chunks = s.events.filter((e) => e.name.startsWith("mlflow.chunk.item."));
  const others = s.events.filter((e) => e.name !== "exception" && !e.name.startsWith("mlflow.chunk.item."));
  if (exceptions.length) {
    parts.push(el("h3", {}, "Exceptions"), el("div", { id: "exceptions" }, exceptions.map((e) => el("div", { class: "exception" },
      el("span", { class: "etype" }, e.attributes["exception.type"] || "error"), ": ",
      el("span", { class: "emsg" }, e.attributes["exception.message"] || ""),
      e.attributes["exception.stacktrace"] ? el("pre", { class: "stacktrace" }, e.attributes["exception.stacktrace"]) : null))));
  }
  if (chunks.length) {
    const values = chunks.map((e) => {
      const raw = e.attributes["mlflow.chunk.value"];
      try { return JSON.parse(raw); } catch (_) { return raw; }
    });
    parts.push(el("h3", {}, `Stream: ${chunks.length} chunks`), el("div", { class: "chunks", id: "chunks" },
      values.map((v) => el("span", { class: "chunk" }, typeof v === "string" ? v : JSON.stringify(v)))));
  }
  if (others.length) {
    parts.push(el("h3", {}, "Events"), el("div", { id: "events" }, others.map((e) => el("div", { class: "event" },
      el("span", { class: "ename" }, e.name), el("span", { class: "muted" }, " +" + fmtDuration(e.time_ns)),
      Object.keys(e.attributes).length ? jsonView(e.attributes) : null))));
  }
  parts.push(el("h3", {}, "Attributes"), el("div", { id: "attributes" }, jsonView(attrs)));
  d.replaceChildren(...parts.filter(Boolean));
}

// The chat of a CHAT_MODEL span in OpenAI's format: the request's messages, then the reply.
function chatView(s) {
  if (s.type !== "CHAT_MODEL" || s.attributes["mlflow.message.format"] !== "openai") return null;
  const messages = [];
  if (s.inputs && Array.isArray(s.inputs.messages)) messages.push(...s.inputs.messages);
  const out = s.outputs;
  if (out && Array.isArray(out.choices)) {
    for (const c of out.choices) if (c && c.message) messages.push(c.message);
  } else if (out && out.role) messages.push(out);
  if (!messages.length) return null;
  const tools = s.attributes["mlflow.chat.tools"];
  return el("div", { class: "chat", id: "chat" },
    Array.isArray(tools) && tools.length ? el("div", { class: "muted tools-offered" },
      "tools offered: " + tools.map((t) => (t.function && t.function.name) || t.name || "?").join(", ")) : null,
    messages.map((m) => {
      const role = m.role || "message";
      let content = m.content;
      if (Array.isArray(content)) content = content.map((p) => (typeof p === "string" ? p : p.text || JSON.stringify(p))).join("\n");
      else if (content !== null && content !== undefined && typeof content !== "string") content = JSON.stringify(content, null, 2);
      const calls = (m.tool_calls || []).map((c) => {
        const fn = c.function || {};
        let args = fn.arguments;
        try { args = JSON.stringify(JSON.parse(args), null, 2); } catch (_) { /* shown as given */ }
        return el("div", { class: "tool-call" }, "tool call ", el("span", { class: "fn" }, fn.name || "?"),
          c.id ? el("span", { class: "muted" }, ` (${c.id})`) : null, el("pre", {}, args || ""));
      });
      return el("div", { class: "bubble role-" + role },
        el("span", { class: "role" }, role + (m.tool_call_id ? " · " + m.tool_call_id : "")),
        content ? longText(content, "content") : null, calls);
    }));
}

// ---- footer, live updates ----

function renderFooter(st) {
  const parts = [el("span", {}, `${st.traces} traces`)];
  if (st.corrupt_lines) {
    const first = st.corrupt[0];
    parts.push(" · ", el("span", {
      class: "corrupt", id: "corrupt",
      title: st.corrupt.map((p) => `line ${p.line}: ${p.message}`).join("\n"),
    }, `${st.corrupt_lines} corrupt line${st.corrupt_lines === 1 ? "" : "s"} skipped` + (first ? ` (first: line ${first.line})` : "")));
  }
  if (!st.file_present) parts.push(" · no store file yet");
  if (st.indexing) parts.push(" · indexing " + Math.floor((100 * st.indexed_bytes) / Math.max(st.file_bytes, 1)) + "%");
  else parts.push(" · live");
  $("#footer-text").replaceChildren(...parts);
}

async function refresh() {
  if (loading) return;
  loading = true;
  try {
    const { path, params } = route();
    const m = path.match(/^\/trace\/([^/]+)$/);
    if (m) await showTrace(decodeURIComponent(m[1]), params);
    else await showList();
  } finally {
    loading = false;
  }
}

async function poll() {
  try {
    const r = await getJson("/api/status");
    if (r.ok) {
      renderFooter(r.body);
      if (r.body.generation !== generation) {
        const first = generation === -1;
        generation = r.body.generation;
        if (!first) await refresh();
      }
    }
  } catch (_) {
    $("#footer-text").textContent = "the spanwise ui server is not answering";
  }
  setTimeout(poll, 1000);
}

$("#filter-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const p = listParams();
  const filter = $("#filter").value.trim();
  if (route().path !== "/" || filter !== p.filter) {
    knownIds = null;
    setListParams({ ...p, filter, page: 0 });
  } else {
    refresh();
  }
});
for (const th of document.querySelectorAll("#traces th[data-sort]")) {
  th.addEventListener("click", () => {
    const p = listParams();
    const order = p.sort === th.dataset.sort && p.order === "desc" ? "asc" : "desc";
    knownIds = null;
    setListParams({ ...p, sort: th.dataset.sort, order, page: 0 });
  });
}
$("#prev").addEventListener("click", () => { const p = listParams(); knownIds = null; setListParams({ ...p, page: p.page - 1 }); });
$("#next").addEventListener("click", () => { const p = listParams(); knownIds = null; setListParams({ ...p, page: p.page + 1 }); });
window.addEventListener("hashchange", () => {
  if (route().path === "/") knownIds = null;
  refresh();
});
refresh().then(poll);
