// Drives two `dws-chat web` pages (alice, bob) in headless Chromium; run by
// test_web.py with a config file naming the pages, the nodes and carol's
// send command. Every wait is for a condition on the page, with a deadline.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { chromium } from "playwright-core";

const cfg = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const WAIT_MS = 60_000; // a hang guard only: nothing is asserted about time

class Failure extends Error {}

function check(cond, message) {
  if (!cond) throw new Failure(message);
}

async function until(what, fn, timeout = WAIT_MS) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last === true || (last && last.ok)) return last;
    } catch (e) {
      last = e.message;
    }
    if (Date.now() > deadline) throw new Failure(`timed out waiting for ${what}; last seen: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function browserFor(name) {
  const profile = fs.mkdtempSync(path.join(cfg.tmp, `chromium-${name}-`));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: cfg.chromium,
    headless: true,
    viewport: { width: 1000, height: 640 },
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  const page = context.pages()[0] || (await context.newPage());
  page.on("pageerror", (e) => console.error(`${name} page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") console.error(`${name} console: ${m.text()}`); });
  return { context, page };
}

const text = (page, sel) => page.locator(sel).innerText();

async function bubbles(page, kind) {
  return page.locator(`#messages .bubble.${kind} .text`).allInnerTexts();
}

async function tickOf(page, messageText) {
  return page.evaluate((t) => {
    for (const b of document.querySelectorAll("#messages .bubble.out")) {
      if (b.querySelector(".text").textContent === t) return b.querySelector(".tick").dataset.state;
    }
    return null;
  }, messageText);
}

async function waitTick(page, messageText, state) {
  await until(`tick '${state}' on '${messageText}'`, async () => {
    const s = await tickOf(page, messageText);
    return s === state ? true : s;
  });
}

async function badge(page, peer) {
  const b = page.locator(`#chat-list li[data-peer="${peer}"] .badge`);
  return (await b.count()) ? b.innerText() : "";
}

async function chatOrder(page) {
  return page.locator("#chat-list li").evaluateAll((lis) => lis.map((li) => li.dataset.peer));
}

async function send(page, message) {
  await page.locator("#text").fill(message);
  await page.locator("#text").press("Enter");
  await until(`'${message.slice(0, 30)}' sent`, async () => (await bubbles(page, "out")).includes(message));
}

function request(url, { method = "GET", headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let data = "";
      res.on("data", (c) => (data += c));
      res.on("end", () => resolve({ status: res.statusCode, body: data }));
    });
    req.on("error", reject);
    if (body) req.write(body);
    req.end();
  });
}

async function main() {
  const a = await browserFor("alice");
  const b = await browserFor("bob");
  const alice = a.page;
  const bob = b.page;
  try {
    // alice registers in the page itself; bob's data directory has an account.
    await alice.goto(cfg.alice);
    await alice.locator("#auth").waitFor({ state: "visible" });
    await alice.locator("#auth-nick").fill("alice");
    await alice.locator("#auth-display").fill("Alice Liddell");
    await alice.locator("#auth-password").fill("correct horse 42");
    await alice.locator("#auth-submit").click();
    await alice.locator("#main").waitFor({ state: "visible" });
    check((await text(alice, "#me-name")) === "alice", "alice's page does not show her nickname");
    await bob.goto(cfg.bob);
    await bob.locator("#main").waitFor({ state: "visible" });
    check((await text(bob, "#me-name")) === "bob", "bob's page does not show his nickname");

    // A new chat with an unknown nickname is a clear error; with bob it opens.
    await alice.locator("#new-chat-nick").fill("nobody-here");
    await alice.locator("#new-chat button").click();
    await until("the unknown-user error", async () =>
      (await text(alice, "#new-chat-error")).includes("no user 'nobody-here'"));
    await alice.locator("#new-chat-nick").fill("bob");
    await alice.locator("#new-chat button").click();
    await until("the chat with bob open", async () => (await text(alice, "#peer-name")) === "bob");

    // Enter sends; Shift+Enter is a new line within the message.
    await send(alice, "hello bob");
    await alice.locator("#text").type("line one");
    await alice.locator("#text").press("Shift+Enter");
    await alice.locator("#text").type("line two");
    await alice.locator("#text").press("Enter");
    await until("the two-line bubble", async () => (await bubbles(alice, "out")).includes("line one\nline two"));

    // bob has not opened the chat: two unread, and alice's ticks stop at delivered.
    await until("bob's unread badge 2", async () => (await badge(bob, "alice")) === "2");
    await waitTick(alice, "hello bob", "delivered");
    await waitTick(alice, "line one\nline two", "delivered");

    // bob opens it: bubbles, no badge, and alice sees "read".
    await bob.locator('#chat-list li[data-peer="alice"]').click();
    await until("alice's messages on bob's page", async () => {
      const got = await bubbles(bob, "in");
      return got.includes("hello bob") && got.includes("line one\nline two") ? true : got;
    });
    await until("bob's badge cleared", async () => (await badge(bob, "alice")) === "");
    await waitTick(alice, "hello bob", "read");
    await waitTick(alice, "line one\nline two", "read");
    check((await bob.locator("#messages .day").count()) >= 1, "no day separator on bob's page");

    // bob answers; alice has the chat open and visible, so it is read at once.
    await send(bob, "hi alice");
    await until("bob's answer on alice's page", async () => (await bubbles(alice, "in")).includes("hi alice"));
    await waitTick(bob, "hi alice", "read");

    // bob's other device (the command line) writes to alice: bob's page
    // shows it as his own, in the open chat; alice gets it once.
    const phone = spawnSync(cfg.bob_phone_send[0], cfg.bob_phone_send.slice(1).concat(["alice", "from bob's phone"]),
      { encoding: "utf8", timeout: WAIT_MS });
    check(phone.status === 0, `the send from bob's phone failed: ${phone.stderr}`);
    await until("the phone's message on bob's page, as sent", async () =>
      (await bubbles(bob, "out")).includes("from bob's phone"));
    await until("the phone's message on alice's page", async () =>
      (await bubbles(alice, "in")).filter((t) => t === "from bob's phone").length === 1);

    // carol writes to alice: her chat goes first, with one unread.
    const carol = spawnSync(cfg.carol_send[0], cfg.carol_send.slice(1).concat(["alice", "hello from carol"]),
      { encoding: "utf8", timeout: WAIT_MS });
    check(carol.status === 0, `carol's send failed: ${carol.stderr}`);
    await until("carol first in alice's chats", async () => {
      const order = await chatOrder(alice);
      return order[0] === "carol" && order[1] === "bob" ? true : order;
    });
    const initials = await alice.locator('#chat-list li[data-peer="carol"] .avatar').innerText();
    check(initials === "CA", `carol's avatar shows '${initials}', expected her initials CA`);
    check((await badge(alice, "carol")) === "1", `carol's badge is '${await badge(alice, "carol")}', expected 1`);
    check((await badge(alice, "bob")) === "", "bob's chat on alice's page has an unread badge while open");

    // The size limit is shown before sending.
    const max = JSON.parse((await request(cfg.alice + "api/state")).body).max_text_bytes;
    await alice.locator("#text").fill("x".repeat(max + 1));
    await until("the over-limit counter", async () =>
      (await alice.locator("#counter.over").count()) === 1 && (await alice.locator("#send").isDisabled()));
    check((await text(alice, "#counter")).includes("1 bytes too long"), "the counter does not say how much is too long");
    await alice.locator("#text").fill("");

    // Contacts: bob's pinned key on alice's side has bob's own safety number.
    const bobSafety = (await text(bob, "#me-safety")).replace("safety number ", "");
    check(/^\d{5} \d{5} \d{5} \d{5}$/.test(bobSafety), `bob's safety number looks wrong: ${bobSafety}`);
    await alice.locator("#show-contacts").click();
    await until("bob in alice's contacts with his safety number", async () =>
      (await alice.locator('#contact-list li[data-nick="bob"] .safety').innerText()) === bobSafety);
    await alice.locator("#close-contacts").click();

    // With read receipts off, bob reads without telling; back on, he tells again.
    const receipts = async (on) => JSON.parse((await request(cfg.bob + "api/state")).body).read_receipts === on;
    await bob.locator("#read-receipts").uncheck();
    await until("read receipts off", () => receipts(false));
    await send(alice, "read quietly");
    await until("the quiet message on bob's page", async () => (await bubbles(bob, "in")).includes("read quietly"));
    await waitTick(alice, "read quietly", "delivered");
    await bob.locator("#read-receipts").check();
    await until("read receipts on", () => receipts(true));
    await send(alice, "read loudly");
    await until("the loud message on bob's page", async () => (await bubbles(bob, "in")).includes("read loudly"));
    await waitTick(alice, "read loudly", "read");
    check((await tickOf(alice, "read quietly")) === "delivered",
      `a message read with receipts off shows '${await tickOf(alice, "read quietly")}' to the sender`);

    // Older history comes in when the conversation is scrolled to the top.
    for (let i = 0; i < 55; i++) {
      const r = await request(cfg.bob + "api/send", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ to: "alice", text: `backlog ${i}` }),
      });
      check(r.status === 200, `bob's backlog message ${i}: ${r.status} ${r.body}`);
    }
    await until("the backlog on alice's page", async () => (await bubbles(alice, "in")).includes("backlog 54"));
    await alice.locator('#chat-list li[data-peer="carol"]').click();
    await alice.locator('#chat-list li[data-peer="bob"]').click();
    await until("the newest 50 of bob's chat", async () =>
      (await alice.locator("#messages .bubble").count()) === 50 && (await bubbles(alice, "in")).includes("backlog 54"));
    check(!(await bubbles(alice, "out")).includes("hello bob"), "the first message is shown before scrolling up");
    await alice.locator("#messages").evaluate((el) => { el.scrollTop = 0; });
    await until("older messages after scrolling up", async () => (await bubbles(alice, "out")).includes("hello bob"));

    // One node stops; the chat goes on both ways.
    process.kill(cfg.nodes[1].pid, "SIGTERM");
    await send(alice, "after the stop");
    await until("the message after the stop on bob's page", async () =>
      (await bubbles(bob, "in")).includes("after the stop"));
    await send(bob, "still here");
    await until("bob's answer after the stop", async () => (await bubbles(alice, "in")).includes("still here"));
    await waitTick(alice, "after the stop", "read");

    await alice.screenshot({ path: path.join(cfg.artifacts, "web-alice.png") });
    await bob.screenshot({ path: path.join(cfg.artifacts, "web-bob.png") });

    // The page's own guards: the token, the origin, JSON-only POSTs.
    const base = new URL(cfg.bob);
    const root = `${base.protocol}//${base.host}`;
    check((await request(cfg.bob + "api/state")).status === 200, "the API with the token is refused");
    check((await request(root + "/")).status === 403, "the page without the token is served");
    check((await request(root + "/api/state")).status === 403, "the API without the token answers");
    check((await request(root + "/" + "0".repeat(32) + "/api/state")).status === 403, "a wrong token is accepted");
    const foreign = await request(cfg.bob + "api/state", { headers: { Origin: "http://evil.example" } });
    check(foreign.status === 403, `a request from another origin got ${foreign.status}`);
    const form = await request(cfg.bob + "api/send", {
      method: "POST", headers: { "Content-Type": "text/plain" }, body: '{"to":"alice","text":"csrf"}',
    });
    check(form.status === 415, `a non-JSON POST got ${form.status}`);
    const get = await request(cfg.bob + "api/send?to=alice&text=x");
    check(get.status === 404, `a GET on the send endpoint got ${get.status}`);
    check(!(await bubbles(alice, "in")).includes("csrf"), "the refused request sent a message");

    // No server left: the page says so, and what is typed waits in the
    // outbox with the queued tick, to leave once the ring answers again.
    for (const n of cfg.nodes) {
      try { process.kill(n.pid, "SIGKILL"); } catch (e) { /* already gone */ }
    }
    await alice.locator("#text").fill("into the void");
    await alice.locator("#text").press("Enter");
    await alice.locator("#offline").waitFor({ state: "visible", timeout: WAIT_MS });
    await until("the queued tick of a send with no server", async () => (await tickOf(alice, "into the void")) === "queued");
    console.log("web: chat, ticks, badges, order, contacts, receipts setting, node stop, guards: ok");
  } catch (e) {
    for (const [name, url] of [["alice", cfg.alice], ["bob", cfg.bob]]) {
      try {
        console.error(`${name} chats: ${(await request(url + "api/chats")).body}`);
      } catch (x) { /* the server may be gone */ }
    }
    for (const [name, page] of [["alice", alice], ["bob", bob]]) {
      try { await page.screenshot({ path: path.join(cfg.artifacts, `web-${name}-failed.png`) }); } catch (x) { /* */ }
    }
    throw e;
  } finally {
    await a.context.close();
    await b.context.close();
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(`FAIL: ${e instanceof Failure ? e.message : e.stack}`);
  process.exit(1);
});
