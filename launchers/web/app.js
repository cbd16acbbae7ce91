// The dwhatsapp web chat. Talks only to the dws-chat process that served it;
// the session token is the first segment of this page's path, and every
// request carries it the same way.
"use strict";

const base = location.pathname.endsWith("/") ? location.pathname : location.pathname + "/";
const $ = (id) => document.getElementById(id);

const state = {
  me: null,
  maxBytes: 65000,
  chats: [],
  peer: null,         // the open conversation's nickname
  oldest: null,       // id of the oldest message shown
  loadingOlder: false,
  noOlder: false,
  register: true,
  // Receipts can beat the answer to the send they are about: the furthest
  // state each id reached, applied when its bubble appears.
  ticks: new Map(),
};

const RANK = { queued: 0, sending: 1, stored: 2, delivered: 3, read: 4 };

function furthest(id, s) {
  const seen = state.ticks.get(id);
  return seen !== undefined && RANK[seen] > RANK[s] ? seen : s;
}

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const res = await fetch(base + "api/" + path, init);
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (!res.ok) throw new Error((data && data.error) || `${res.status} ${res.statusText}`);
  return data;
}

function initials(name) {
  const words = name.replace(/[_.-]+/g, " ").trim().split(/\s+/);
  const s = words.length > 1 ? words[0][0] + words[1][0] : name.slice(0, 2);
  return s.toUpperCase();
}

function colour(name) {
  let h = 0;
  for (const c of name) h = (h * 31 + c.codePointAt(0)) % 360;
  return `hsl(${h}, 45%, 48%)`;
}

function avatar(el, name) {
  el.textContent = initials(name);
  el.style.background = colour(name);
}

function shownName(chat) {
  return chat.alias || chat.display_name || chat.peer;
}

function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function dayOf(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

function dayLabel(ms) {
  const today = new Date();
  const d = new Date(ms);
  if (dayOf(ms) === dayOf(today.getTime())) return "Today";
  if (dayOf(ms) === dayOf(today.getTime() - 86400000)) return "Yesterday";
  return d.toLocaleDateString([], { year: "numeric", month: "long", day: "numeric" });
}

function listTime(ms) {
  return dayOf(ms) === dayOf(Date.now()) ? clock(ms) : new Date(ms).toLocaleDateString();
}

const TICKS = { queued: "\u{1F552}", sending: "\u00B7", stored: "\u2713", delivered: "\u2713\u2713", read: "\u2713\u2713" };
const TICK_TITLES = {
  queued: "queued: no server reachable, sent later", sending: "sending", stored: "stored on the ring",
  delivered: "delivered to their device", read: "read",
};

function setTick(el, s) {
  el.dataset.state = s;
  el.textContent = TICKS[s] || "";
  el.title = TICK_TITLES[s] || s;
}

// Screens

function showAuth() {
  $("auth").hidden = false;
  $("main").hidden = true;
  $("auth-nick").focus();
}

function setAuthMode(register) {
  state.register = register;
  $("tab-register").classList.toggle("active", register);
  $("tab-login").classList.toggle("active", !register);
  $("auth-display-row").hidden = !register;
  $("auth-submit").textContent = register ? "Register" : "Log in";
  $("auth-error").textContent = "";
}

async function submitAuth(ev) {
  ev.preventDefault();
  const body = { nickname: $("auth-nick").value.trim(), password: $("auth-password").value };
  if (state.register) body.display_name = $("auth-display").value.trim();
  $("auth-submit").disabled = true;
  $("auth-error").textContent = "";
  try {
    await api(state.register ? "register" : "login", body);
    await start();
  } catch (e) {
    $("auth-error").textContent = e.message;
  } finally {
    $("auth-submit").disabled = false;
  }
}

async function start() {
  const s = await api("state");
  state.maxBytes = s.max_text_bytes;
  $("offline").hidden = s.reachable;
  if (!s.account) return showAuth();
  state.me = s.account;
  $("auth").hidden = true;
  $("main").hidden = false;
  $("me-name").textContent = s.account;
  $("me-safety").textContent = "safety number " + s.safety_number;
  avatar($("me-avatar"), s.account);
  $("read-receipts").checked = s.read_receipts;
  updateCounter();
  connectEvents(s.event);
  await refreshChats();
}

// The chat list

// Refreshes never overlap: answers to overlapping requests can come back
// out of order and an older list would win. One asked for while another
// runs makes that one go round again.
let refreshing = null;
let refreshAgain = false;

function refreshChats() {
  if (refreshing) {
    refreshAgain = true;
    return refreshing;
  }
  refreshing = (async () => {
    try {
      do {
        refreshAgain = false;
        await loadChats();
      } while (refreshAgain);
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

async function loadChats() {
  state.chats = await api("chats");
  const list = $("chat-list");
  list.replaceChildren();
  for (const c of state.chats) {
    const li = document.createElement("li");
    li.dataset.peer = c.peer;
    li.classList.toggle("active", c.peer === state.peer);
    const av = document.createElement("div");
    av.className = "avatar";
    avatar(av, shownName(c));
    const main = document.createElement("div");
    main.className = "chat-main";
    const top = document.createElement("div");
    top.className = "chat-top";
    const name = document.createElement("span");
    name.className = "name chat-name";
    name.textContent = shownName(c);
    const time = document.createElement("span");
    time.className = "chat-time";
    time.textContent = c.last.sent_at ? listTime(c.last.sent_at) : "";
    top.append(name, time);
    const bottom = document.createElement("div");
    bottom.className = "chat-bottom";
    const last = document.createElement("span");
    last.className = "chat-last";
    last.textContent = (c.last.outgoing ? "You: " : "") + c.last.text;
    bottom.append(last);
    if (c.unread > 0) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = String(c.unread);
      bottom.append(badge);
    }
    main.append(top, bottom);
    li.append(av, main);
    li.addEventListener("click", () => openChat(c.peer));
    list.append(li);
  }
}

// The conversation

function bubble(m) {
  const div = document.createElement("div");
  div.className = "bubble " + (m.outgoing ? "out" : "in");
  div.dataset.id = m.id;
  div.dataset.day = dayOf(m.sent_at);
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = m.text;
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = clock(m.sent_at);
  if (m.outgoing) {
    const tick = document.createElement("span");
    tick.className = "tick";
    setTick(tick, furthest(m.id, m.state));
    meta.append(tick);
  }
  div.append(text, meta);
  return div;
}

function daySeparator(ms) {
  const d = document.createElement("div");
  d.className = "day";
  d.dataset.day = dayOf(ms);
  d.textContent = dayLabel(ms);
  return d;
}

// Renders messages oldest first, with a separator wherever the day changes.
function render(messages) {
  const frag = document.createDocumentFragment();
  let day = null;
  for (const m of messages) {
    if (dayOf(m.sent_at) !== day) {
      day = dayOf(m.sent_at);
      frag.append(daySeparator(m.sent_at));
    }
    frag.append(bubble(m));
  }
  return frag;
}

function appendMessage(m) {
  const box = $("messages");
  if (box.querySelector(`[data-id="${m.id}"]`)) return;
  const bubbles = box.querySelectorAll(".bubble");
  const lastDay = bubbles.length ? bubbles[bubbles.length - 1].dataset.day : null;
  if (lastDay !== dayOf(m.sent_at)) box.append(daySeparator(m.sent_at));
  box.append(bubble(m));
  if (!state.oldest) state.oldest = m.id;
  box.scrollTop = box.scrollHeight;
}

async function openChat(peer) {
  state.peer = peer;
  state.oldest = null;
  state.noOlder = false;
  const chat = state.chats.find((c) => c.peer === peer) || { peer, alias: "", display_name: "" };
  $("empty").hidden = true;
  $("peer-bar").hidden = false;
  $("messages").hidden = false;
  $("composer").hidden = false;
  $("send-error").textContent = "";
  $("peer-name").textContent = shownName(chat);
  avatar($("peer-avatar"), shownName(chat));
  const messages = await api("history?peer=" + encodeURIComponent(peer) + "&limit=50");
  const box = $("messages");
  box.replaceChildren(render(messages));
  state.oldest = messages.length ? messages[0].id : null;
  state.noOlder = messages.length < 50;
  box.scrollTop = box.scrollHeight;
  await showPeerKey(peer);
  await markRead();
  await refreshChats();
  $("text").focus();
}

async function showPeerKey(peer) {
  const contacts = await api("contacts");
  const c = contacts.find((x) => x.nickname === peer);
  $("peer-safety").textContent = c && c.safety_number ? `@${peer} \u00B7 safety number ${c.safety_number}` : `@${peer}`;
  const warn = $("key-warning");
  warn.hidden = !(c && c.key_changed);
  warn.textContent = c && c.key_changed
    ? `The key of ${peer} changed on the ring. Messages under the new key are refused until you accept it in Contacts.`
    : "";
}

async function loadOlder() {
  if (!state.peer || !state.oldest || state.loadingOlder || state.noOlder) return;
  state.loadingOlder = true;
  const peer = state.peer;
  try {
    const older = await api("history?peer=" + encodeURIComponent(peer) + "&before=" + state.oldest + "&limit=50");
    if (peer !== state.peer) return;
    state.noOlder = older.length < 50;
    if (!older.length) return;
    const box = $("messages");
    const before = box.scrollHeight;
    // The first shown day's separator is drawn again by render() when the
    // older page ends on that day.
    const first = box.firstElementChild;
    if (first && first.classList.contains("day") && first.dataset.day === dayOf(older[older.length - 1].sent_at)) first.remove();
    box.prepend(render(older));
    state.oldest = older[0].id;
    box.scrollTop += box.scrollHeight - before;
  } finally {
    state.loadingOlder = false;
  }
}

// A conversation on screen, in a visible tab, is read (as in WhatsApp).
async function markRead() {
  if (!state.peer || document.visibilityState !== "visible") return;
  try { await api("read", { peer: state.peer }); } catch (e) { /* shown on the next refresh */ }
}

// Sending

function byteLength(s) { return new TextEncoder().encode(s).length; }

function updateCounter() {
  const text = $("text").value;
  const n = byteLength(text);
  const counter = $("counter");
  const over = n > state.maxBytes;
  counter.classList.toggle("over", over);
  counter.textContent = over ? `${n - state.maxBytes} bytes too long`
    : n > state.maxBytes * 0.8 ? `${state.maxBytes - n} left` : "";
  $("send").disabled = over || text.trim() === "";
  $("text").style.height = "auto";
  $("text").style.height = Math.min($("text").scrollHeight, 140) + "px";
}

async function send(ev) {
  if (ev) ev.preventDefault();
  const text = $("text").value;
  if (!state.peer || text.trim() === "" || byteLength(text) > state.maxBytes) return;
  $("send").disabled = true;
  $("send-error").textContent = "";
  try {
    const m = await api("send", { to: state.peer, text });
    $("text").value = "";
    if (m.text !== undefined) appendMessage(m);
    await refreshChats();
  } catch (e) {
    $("send-error").textContent = e.message;
  } finally {
    updateCounter();
  }
}

async function newChat(ev) {
  ev.preventDefault();
  const name = $("new-chat-nick").value.trim();
  $("new-chat-error").textContent = "";
  if (!name) return;
  try {
    const c = await api("check", { nickname: name });
    $("new-chat-nick").value = "";
    await refreshChats();
    await openChat(c.nickname);
  } catch (e) {
    $("new-chat-error").textContent = e.message;
  }
}

// Contacts

async function showContacts() {
  const contacts = await api("contacts");
  const list = $("contact-list");
  list.replaceChildren();
  for (const c of contacts) {
    const li = document.createElement("li");
    li.dataset.nick = c.nickname;
    const name = document.createElement("div");
    name.className = "name";
    name.textContent = (c.alias || c.display_name || c.nickname) + (c.alias || c.display_name ? ` (@${c.nickname})` : "");
    const safety = document.createElement("div");
    safety.className = "safety";
    safety.textContent = c.safety_number;
    li.append(name, safety);
    if (c.key_changed) {
      const warn = document.createElement("div");
      warn.className = "error key-changed";
      warn.textContent = "Key changed on the ring: messages under the new key are refused. ";
      const accept = document.createElement("button");
      accept.textContent = "Trust the new key";
      accept.addEventListener("click", async () => {
        try { await api("contacts", { nickname: c.nickname, alias: c.alias }); await showContacts(); }
        catch (e) { warn.textContent = e.message; }
      });
      warn.append(accept);
      li.append(warn);
    }
    list.append(li);
  }
  if (!contacts.length) list.textContent = "No contacts yet: start a chat with a nickname.";
  $("contacts").hidden = false;
}

// Live updates

function connectEvents(after) {
  const events = new EventSource(base + "api/events?after=" + after);
  events.addEventListener("message", async (e) => {
    const m = JSON.parse(e.data);
    const peer = m.outgoing ? m.to : m.from;
    if (peer === state.peer) {
      appendMessage(m);
      await markRead();
    }
    await refreshChats();
  });
  events.addEventListener("delivery", (e) => {
    const d = JSON.parse(e.data);
    state.ticks.set(d.id, furthest(d.id, d.state));
    if (state.ticks.size > 5000) state.ticks.delete(state.ticks.keys().next().value);
    const tick = d.peer === state.peer ? $("messages").querySelector(`[data-id="${d.id}"] .tick`) : null;
    if (tick) {
      setTick(tick, furthest(d.id, tick.dataset.state));
    } else if (d.state === "stored") {
      // Sent by another device of this account: show it where it belongs.
      api("history?peer=" + encodeURIComponent(d.peer) + "&limit=20").then((recent) => {
        const m = recent.find((x) => x.id === d.id);
        if (m && d.peer === state.peer) appendMessage(m);
        return refreshChats();
      }).catch(() => {});
    }
  });
  events.addEventListener("connection", (e) => {
    $("offline").hidden = JSON.parse(e.data).reachable;
  });
  events.onerror = () => {
    $("offline").textContent = "Lost the connection to dws-chat web: is it still running?";
    $("offline").hidden = false;
  };
  events.onopen = () => {
    $("offline").textContent = "No server of the ring is reachable: messages wait until one answers.";
    api("state").then((s) => { $("offline").hidden = s.reachable; }).catch(() => {});
  };
}

// Wiring

$("tab-register").addEventListener("click", () => setAuthMode(true));
$("tab-login").addEventListener("click", () => setAuthMode(false));
$("auth-form").addEventListener("submit", submitAuth);
$("new-chat").addEventListener("submit", newChat);
$("composer").addEventListener("submit", send);
$("text").addEventListener("input", updateCounter);
$("text").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    send();
  }
});
$("messages").addEventListener("scroll", () => { if ($("messages").scrollTop < 60) loadOlder(); });
$("show-contacts").addEventListener("click", showContacts);
$("close-contacts").addEventListener("click", () => { $("contacts").hidden = true; });
$("read-receipts").addEventListener("change", async (e) => {
  try { await api("settings", { read_receipts: e.target.checked }); } catch (err) { e.target.checked = !e.target.checked; }
});
document.addEventListener("visibilitychange", markRead);

start().catch((e) => {
  document.body.textContent = "dws-chat web: " + e.message;
});
