// Gongdan's own page script: progressive enhancement only — every page works without it.
// Cascading pickers, live updates over server-sent events, presence, customer search,
// keyboard shortcuts and small conveniences. No libraries, no inline handlers (strict CSP).
(function () {
  "use strict";

  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const csrf = () => ($('meta[name="csrf-token"]') || {}).content || "";
  const i18n = (k) => { const el = $("#i18n"); return (el && el.dataset[k]) || ""; };

  // ---- cascading pickers: a flattened tree <select data-cascade> becomes one select per level
  function cascade(select) {
    const opts = $$("option", select).filter((o) => o.value !== "");
    const children = (parent) => opts.filter((o) => (o.dataset.parent || "") === parent);
    const byValue = new Map(opts.map((o) => [o.value, o]));
    const box = document.createElement("div");
    box.className = "cascade";
    select.after(box);
    select.classList.add("cascaded");
    function chain(value) {
      const out = [];
      let cur = byValue.get(value);
      while (cur) { out.unshift(cur.value); cur = byValue.get(cur.dataset.parent || ""); }
      return out;
    }
    function render() {
      box.textContent = "";
      const path = chain(select.value);
      let parent = "";
      for (let depth = 0; depth < 8; depth++) {
        const kids = children(parent);
        if (!kids.length) break;
        const level = document.createElement("select");
        level.setAttribute("aria-label", (select.labels[0] ? select.labels[0].textContent : "") + " " + (depth + 1));
        level.dataset.level = String(depth);
        const blank = document.createElement("option");
        blank.value = "";
        blank.textContent = "—";
        level.append(blank);
        for (const k of kids) {
          const o = document.createElement("option");
          o.value = k.value;
          o.textContent = k.dataset.label || k.textContent.trim();
          level.append(o);
        }
        const chosen = path[depth] || "";
        level.value = chosen;
        const here = parent;
        level.addEventListener("change", () => {
          select.value = level.value || here;
          select.dispatchEvent(new Event("change", { bubbles: true }));
          render();
        });
        box.append(level);
        if (!chosen) break;
        parent = chosen;
      }
    }
    render();
  }

  // ---- a form whose category decides its fields: refetch them with everything typed kept
  function refreshOnCategory(form) {
    const btn = $("[data-refresh]", form);
    const cat = $('select[name="category_id"]', form);
    if (!btn || !cat) return;
    btn.hidden = true;
    cat.addEventListener("change", () => btn.click());
  }

  // ---- live updates
  function fetchPage(url, fragment) {
    const headers = fragment ? { "X-Fragment": fragment } : {};
    return fetch(url, { headers, credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
      .then((html) => new DOMParser().parseFromString(html, "text/html"));
  }
  function swap(doc, ids) {
    for (const id of ids) {
      const fresh = doc.getElementById(id);
      const old = document.getElementById(id);
      if (fresh && old) old.replaceWith(fresh);
    }
    $$("select[data-cascade]:not(.cascaded)").forEach(cascade);
  }
  function debounce(fn, ms) {
    let t = null;
    return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
  }
  function stale(text) {
    const n = $("#stale");
    if (!n) return;
    n.hidden = false;
    n.textContent = text + " ";
    const a = document.createElement("a");
    a.href = location.pathname;
    a.textContent = i18n("reload");
    n.append(a);
  }

  function live(root) {
    if (!window.EventSource) return;
    const es = new EventSource(root.dataset.live);
    const ticket = root.dataset.ticket ? Number(root.dataset.ticket) : null;
    const fragment = root.dataset.fragment;
    let onChange = null;
    if (root.hasAttribute("data-list")) {
      onChange = debounce(() => {
        if ($$('input[name="ids"]:checked').length) { return; }
        fetchPage(fragment, "list").then((doc) => { swap(doc, ["views", "list"]); listKeys(); }).catch(() => {});
      }, 300);
    } else if (root.classList.contains("ticket-page")) {
      onChange = debounce(() => {
        const panel = $("#panel-form");
        const dirty = panel && panel.dataset.dirty === "1";
        fetchPage(fragment, dirty ? "timeline" : null).then((doc) => {
          if (dirty) {
            swap(doc, ["timeline", "ticket-status"]);
            stale(i18n("updated"));
          } else {
            swap(doc, ["timeline", "ticket-status", "panel-form", "links", "requester"]);
            watchDirty();
          }
        }).catch(() => {});
      }, 200);
    } else if (root.classList.contains("request-page")) {
      onChange = debounce(() => {
        fetchPage(fragment, "conversation").then((doc) => swap(doc, ["progress", "conversation", "request-status"])).catch(() => {});
      }, 200);
    } else if (root.hasAttribute("data-reload-on-change")) {
      onChange = debounce(() => { fetchPage(location.href).then((doc) => swap(doc, ["requests"])).catch(() => {}); }, 300);
    }
    es.addEventListener("ticket", (e) => {
      const data = JSON.parse(e.data);
      if (ticket === null || data.id === ticket) onChange && onChange();
    });
    es.addEventListener("refresh", () => onChange && onChange());
    // Leaving the page frees our place among the ticket's viewers at once.
    es.addEventListener("hello", (e) => {
      const { conn } = JSON.parse(e.data);
      window.addEventListener("pagehide", () => {
        es.close();
        fetch("/agent/live/leave", {
          method: "POST",
          keepalive: true,
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
          body: JSON.stringify({ ticket, conn }),
        }).catch(() => {});
      });
    });
    es.addEventListener("presence", (e) => {
      const box = $("#presence");
      if (!box) return;
      const { viewers } = JSON.parse(e.data);
      box.textContent = "";
      for (const v of viewers) {
        const s = document.createElement("span");
        s.textContent = (v.replying ? i18n("replying") : i18n("viewing")).replace("{name}", v.name);
        s.dataset.replying = v.replying ? "1" : "0";
        box.append(s);
      }
      box.hidden = viewers.length === 0;
    });
  }

  function watchDirty() {
    const panel = $("#panel-form");
    if (!panel) return;
    panel.dataset.dirty = "0";
    panel.addEventListener("input", () => { panel.dataset.dirty = "1"; });
    panel.addEventListener("change", () => { panel.dataset.dirty = "1"; });
    $$("select[data-cascade]:not(.cascaded)", panel).forEach(cascade);
  }

  // ---- presence: tell others while typing a reply
  function presence(page) {
    const body = $("#reply-body");
    const url = page.dataset.presence;
    if (!body || !url) return;
    let replying = false;
    const send = (on) => {
      if (on === replying) return;
      replying = on;
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
        body: JSON.stringify({ replying: on }),
      }).catch(() => {});
    };
    const idle = debounce(() => send(false), 15000);
    body.addEventListener("input", () => { send(body.value.trim() !== ""); idle(); });
    const form = body.form;
    if (form) form.addEventListener("submit", () => send(false));
  }

  // ---- customer search for "create on behalf"
  function customerSearch(input) {
    const list = $("#customer-results");
    const id = $("#requester-id");
    const label = $("#requester-label");
    let items = [];
    let active = -1;
    const choose = (u) => {
      id.value = String(u.id);
      input.value = u.name + (u.email ? " <" + u.email + ">" : "");
      label.value = input.value;
      list.hidden = true;
    };
    const show = (users) => {
      items = users;
      active = -1;
      list.textContent = "";
      if (!users.length) {
        const li = document.createElement("li");
        li.textContent = i18n("noMatch");
        list.append(li);
      }
      users.forEach((u, i) => {
        const li = document.createElement("li");
        li.setAttribute("role", "option");
        li.dataset.index = String(i);
        li.textContent = u.name + (u.email ? " <" + u.email + ">" : "");
        li.addEventListener("mousedown", (e) => { e.preventDefault(); choose(u); });
        list.append(li);
      });
      list.hidden = false;
    };
    const search = debounce(() => {
      const q = input.value.trim();
      if (q.length < 2) { list.hidden = true; return; }
      fetch("/api/v1/users?role=customer&limit=8&q=" + encodeURIComponent(q), { credentials: "same-origin" })
        .then((r) => r.json())
        .then((d) => show(d.items || []))
        .catch(() => {});
    }, 250);
    input.addEventListener("input", () => { id.value = ""; label.value = ""; search(); });
    input.addEventListener("keydown", (e) => {
      if (list.hidden || !items.length) return;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        active = (active + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
        $$("li", list).forEach((li, i) => li.setAttribute("aria-selected", String(i === active)));
      } else if (e.key === "Enter" && active >= 0) {
        e.preventDefault();
        choose(items[active]);
      } else if (e.key === "Escape") {
        list.hidden = true;
      }
    });
    input.addEventListener("blur", () => { setTimeout(() => { list.hidden = true; }, 150); });
  }

  // ---- list: selection, and the keyboard cursor
  let cursor = -1;
  function rows() { return $$("table.tickets tbody tr"); }
  function listKeys() {
    const ids = rows().map((r) => Number(r.dataset.ticket));
    try {
      sessionStorage.setItem("gd-list", JSON.stringify(ids));
      sessionStorage.setItem("gd-list-url", location.pathname + location.search);
    } catch (e) { /* private mode */ }
    const all = $("[data-select-all]");
    if (all) all.addEventListener("change", () => { $$('input[name="ids"]').forEach((c) => { c.checked = all.checked; }); count(); });
    $$('input[name="ids"]').forEach((c) => c.addEventListener("change", count));
    cursor = Math.min(cursor, rows().length - 1);
    mark();
  }
  function count() {
    const n = $$('input[name="ids"]:checked').length;
    const el = $("[data-selected-count]");
    if (el) el.textContent = n ? "(" + n + ")" : "";
    const bulk = $("#bulk");
    if (bulk && n) bulk.open = true;
  }
  function mark() {
    rows().forEach((r, i) => r.classList.toggle("cursor", i === cursor));
    const r = rows()[cursor];
    if (r) r.scrollIntoView({ block: "nearest" });
  }

  // ---- keyboard shortcuts (documented in the help overlay)
  function typing(e) {
    const t = e.target;
    return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  }
  function help(show) {
    const h = $("#help");
    if (!h) return;
    h.hidden = show === undefined ? !h.hidden : !show;
    if (!h.hidden) { const b = $("[data-help-close]", h); if (b) b.focus(); }
  }
  function neighbour(step) {
    const page = $(".ticket-page");
    if (!page) return;
    let ids = [];
    try { ids = JSON.parse(sessionStorage.getItem("gd-list") || "[]"); } catch (e) { ids = []; }
    const at = ids.indexOf(Number(page.dataset.ticket));
    const next = ids[at + step];
    if (at >= 0 && next) location.href = "/agent/tickets/" + next;
  }
  function focusReply(internal) {
    const body = $("#reply-body");
    if (!body) return;
    const radio = $(internal ? "#reply-internal" : "#reply-public");
    if (radio) radio.checked = true;
    body.focus();
  }
  let pendingG = false;
  function keys(e) {
    if (e.key === "Escape") { help(false); return; }
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
      const form = e.target && e.target.form;
      if (form) { e.preventDefault(); form.requestSubmit ? form.requestSubmit() : form.submit(); }
      return;
    }
    if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (!$(".agent")) return;
    const list = rows();
    if (pendingG) {
      pendingG = false;
      if (e.key === "v") { location.href = "/agent"; }
      return;
    }
    switch (e.key) {
      case "?": help(); break;
      case "g": pendingG = true; break;
      case "c": location.href = "/agent/tickets/new"; break;
      case "j":
        if (list.length) { cursor = Math.min(cursor + 1, list.length - 1); mark(); } else neighbour(1);
        break;
      case "k":
        if (list.length) { cursor = Math.max(cursor - 1, 0); mark(); } else neighbour(-1);
        break;
      case "o": case "Enter": {
        const r = list[cursor];
        if (r) { const a = $("a", r.querySelector(".subject")); if (a) location.href = a.href; }
        break;
      }
      case "x": {
        const r = list[cursor];
        if (r) { const c = $('input[name="ids"]', r); if (c) { c.checked = !c.checked; count(); } }
        break;
      }
      case "r": e.preventDefault(); focusReply(false); break;
      case "i": e.preventDefault(); focusReply(true); break;
      default: return;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $$("select[data-cascade]").forEach(cascade);
    $$("form").forEach(refreshOnCategory);
    $$("[data-confirm]").forEach((b) => b.addEventListener("click", (e) => { if (!confirm(b.dataset.confirm)) e.preventDefault(); }));
    $$("[data-help]").forEach((b) => b.addEventListener("click", () => help()));
    $$("[data-help-close]").forEach((b) => b.addEventListener("click", () => help(false)));
    $$("[data-back]").forEach((a) => {
      let url = "/agent";
      try { url = sessionStorage.getItem("gd-list-url") || url; } catch (e) { /* ignore */ }
      a.href = url;
    });
    const search = $("[data-customer-search]");
    if (search) customerSearch(search);
    if ($("table.tickets")) listKeys();
    watchDirty();
    const page = $(".ticket-page");
    if (page) presence(page);
    $$("[data-live]").forEach(live);
    $$("[data-rule-form]").forEach(ruleBuilder);
    $$("select[data-autosubmit]").forEach((sel) => {
      sel.addEventListener("change", () => sel.form.submit());
      const button = sel.form.querySelector("button[type=submit]");
      if (button) button.hidden = true;
    });
    document.addEventListener("keydown", keys);
  });

  // ---- rule builder: each row's value picker follows its field; rows can be added
  function ruleBuilder(form) {
    function fit(row) {
      const pick = $("[data-field-pick]", row);
      const value = $("[data-value]", row);
      const notify = $("[data-notify]", row);
      if (!pick || !value) return;
      const opt = pick.selectedOptions[0];
      const list = opt ? opt.dataset.list || "" : "";
      if (list) value.setAttribute("list", list); else value.removeAttribute("list");
      const isNotify = pick.value === "notify";
      if (notify) notify.hidden = !isNotify;
      value.hidden = isNotify;
      // A template brings its own subject and message (in each reader's language).
      const template = $("[data-template-pick]", row);
      if (template) {
        $$("[name$='.subject'], [name$='.body']", row).forEach((el) => { el.hidden = template.value !== ""; });
      }
    }
    $$("[data-row]", form).forEach((row) => {
      fit(row);
      const pick = $("[data-field-pick]", row);
      if (pick) pick.addEventListener("change", () => fit(row));
      const template = $("[data-template-pick]", row);
      if (template) template.addEventListener("change", () => fit(row));
    });
    $$("[data-add-row]", form).forEach((button) => {
      button.addEventListener("click", () => {
        const box = button.closest("[data-rows]");
        const rowsHere = $$("[data-row]", box);
        const last = rowsHere[rowsHere.length - 1];
        if (!last) return;
        const prefix = box.dataset.rows;
        const copy = last.cloneNode(true);
        const n = rowsHere.length;
        $$("[name]", copy).forEach((el) => {
          el.name = el.name.replace(new RegExp("^" + prefix.replace(".", "\\.") + "\\.\\d+"), prefix + "." + n);
          if (el.tagName === "SELECT") el.selectedIndex = 0; else el.value = "";
        });
        $$(".error", copy).forEach((e) => e.remove());
        copy.classList.remove("has-error");
        last.after(copy);
        fit(copy);
        const pick = $("[data-field-pick]", copy);
        const template = $("[data-template-pick]", copy);
        if (template) template.addEventListener("change", () => fit(copy));
        if (pick) { pick.addEventListener("change", () => fit(copy)); pick.focus(); }
      });
    });
  }

  // ---- remote images in mail: held back (a remote image tells its sender the mail was
  // read) until the reader asks, one comment at a time
  document.addEventListener("click", (ev) => {
    const button = ev.target.closest ? ev.target.closest("[data-load-remote]") : null;
    if (!button) return;
    const comment = button.closest("li");
    if (!comment) return;
    $$("img[data-remote-src]", comment).forEach((img) => {
      const src = img.dataset.remoteSrc || "";
      if (/^https?:\/\//i.test(src)) img.src = src;
      img.removeAttribute("data-remote-src");
    });
    const line = button.closest(".remote-images");
    if (line) line.remove();
  });
})();
