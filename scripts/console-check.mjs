// The console in a real browser (Debian's Chromium driven by playwright-core), against the
// demo retailer: the click & collect journey from a web order to the handover (the queue
// updates live when the order arrives), a return at the desk, clienteling with and without
// the customer's consent (and a visit noted on the card), the KPI page with its charts and
// CSV, a transfer received and one shipped, a batch of coupon codes; axe-core on every page, a
// 768 px tablet viewport throughout, and a screenshot of every page.
//
// Usage: node console-check.mjs <base url> <keys.json> <screenshot dir>
// Prints `console-check: <name> ok|FAILED` per check; exits 1 on a failure.
import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { chromium } = require("playwright-core");
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const [base, keysFile, shots] = process.argv.slice(2);
const keys = JSON.parse(readFileSync(keysFile, "utf8"));
mkdirSync(shots, { recursive: true });
const USERS = {
  associate: ["associate.lyon@demo.example", "relais-demo-associate"],
  manager: ["manager.lyon@demo.example", "relais-demo-manager"],
  service: ["service@demo.example", "relais-demo-service"],
  marketer: ["marketing@demo.example", "relais-demo-marketing"],
  admin: ["admin@demo.example", "relais-demo-admin"],
};

async function api(method, path, key, body) {
  const r = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* CSV or empty */ }
  if (!r.ok) { throw new Error(`${method} ${path}: ${r.status} ${text}`); }
  return json;
}

function assert(ok, message) { if (!ok) { throw new Error(message); } }

let failed = 0;
const pagesSeen = [];
async function check(name, run) {
  try {
    await run();
    console.log(`console-check: ${name} ok`);
  } catch (e) {
    failed = 1;
    console.log(`console-check: ${name} FAILED`);
    console.log(String(e && e.stack ? e.stack : e).split("\n").slice(0, 12).join("\n"));
  }
}

// Every page visited: a screenshot, no horizontal scrolling at 768 px, no serious or
// critical axe-core violation.
async function inspect(page, label) {
  await page.screenshot({ path: `${shots}/${label}.png`, fullPage: true });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(width <= 768, `${label}: the page is ${width} px wide at 768 px`);
  // Evaluated through the DevTools protocol: the page's CSP (no inline script) stays on.
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () =>
    await window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] }));
  const bad = result.violations.filter((v) => ["serious", "critical"].includes(v.impact));
  pagesSeen.push(label);
  assert(bad.length === 0, `${label}: axe: ` + bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`).join("; "));
}

async function signIn(context, who) {
  const page = await context.newPage();
  await page.goto(`${base}/console/login?lang=fr`);
  await inspect(page, `login-${who}`);
  await page.fill("#email", USERS[who][0]);
  await page.fill("#password", USERS[who][1]);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  return page;
}

/// A SKU Lyon can promise to the web, for a new click & collect order.
async function skuAtLyon() {
  const stock = await api("GET", "/v1/locations/LYS-BELLECOUR/stock?limit=200", keys.admin);
  const line = stock.data.find((l) => l.atp >= 3 && !String(l.sku).startsWith("CARTE"));
  assert(line, "Lyon has stock to sell");
  return line.sku;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const viewport = { width: 768, height: 1024 };
let collected = null;

await check("click-and-collect-journey", async () => {
  const context = await browser.newContext({ viewport, locale: "fr-FR" });
  const page = await signIn(context, "associate");
  assert(page.url().endsWith("/console/queue"), `the associate lands on the queue: ${page.url()}`);
  await page.waitForFunction(() => document.body.classList.contains("connected"), null, { timeout: 10000 });
  await inspect(page, "queue");
  // A web customer orders now; the open page shows it without being reloaded.
  const sku = await skuAtLyon();
  const cart = await api("POST", "/v1/carts", keys.web, { lines: [{ sku, quantity: 1 }] });
  const order = await api("POST", `/v1/carts/${cart.id}/checkout`, keys.web,
    { mode: "pickup", location: "LYS-BELLECOUR", payment: { token: "tok_visa" } });
  const marker = await page.evaluate(() => { window.__notReloaded = true; return true; });
  assert(marker, "marked");
  const row = `tr[data-order="${order.id}"]`;
  await page.waitForSelector(row, { timeout: 10000 });
  assert(await page.evaluate(() => window.__notReloaded === true), "the queue updated without a reload");
  await inspect(page, "queue-new-order");
  for (const step of ["start_preparing", "mark_ready"]) {
    await Promise.all([page.waitForNavigation(), page.click(`${row} button.${step}`)]);
  }
  const ready = await api("GET", `/v1/orders/${order.id}`, keys.admin);
  assert(ready.state === "ready_for_pickup", `ready: ${ready.state}`);
  await page.fill(`#code-${order.id}`, ready.pickup_code);
  await Promise.all([page.waitForNavigation(), page.click(`${row} button.collect`)]);
  await inspect(page, "queue-handed-over");
  assert(await page.locator(row).count() === 0, "the order left the queue");
  const done = await api("GET", `/v1/orders/${order.id}`, keys.admin);
  assert(done.state === "collected", `collected: ${done.state}`);
  collected = done;
  await context.close();
});

await check("returns-desk", async () => {
  assert(collected, "the journey left a collected order");
  const context = await browser.newContext({ viewport, locale: "fr-FR" });
  const page = await signIn(context, "associate");
  await page.goto(`${base}/console/returns`);
  await page.fill("#receipt", collected.receipt.qr_payload);
  await Promise.all([page.waitForNavigation(), page.click("form.bar button[type=submit]")]);
  await inspect(page, "returns-order");
  await page.fill(`#qty_${collected.lines[0].line}`, "1");
  await Promise.all([page.waitForNavigation(), page.click("#return-form button[type=submit]")]);
  await page.waitForSelector("#return-done");
  await inspect(page, "returns-done");
  const returns = await api("GET", `/v1/orders/${collected.id}/returns`, keys.admin);
  assert(returns.length === 1 && returns[0].location === "LYS-BELLECOUR", JSON.stringify(returns));
  await context.close();
});

await check("clienteling-follows-consent", async () => {
  const stamp = Date.now();
  const sharing = await api("POST", "/v1/customers", keys.service,
    { identifiers: [{ kind: "email", value: `sharing.${stamp}@example.fr`, verified: true }], given_name: "Chloé", family_name: "Partage", home_store: "PAR-RIVOLI" });
  await api("POST", `/v1/customers/${sharing.id}/consents`, keys.service,
    { purpose: "service_history_sharing", status: "granted", method: "pos", notice_version: "v1" });
  await api("POST", "/v1/customers", keys.service,
    { identifiers: [{ kind: "email", value: `private.${stamp}@example.fr`, verified: true }], given_name: "Paul", family_name: "Privé", home_store: "PAR-RIVOLI" });
  const context = await browser.newContext({ viewport, locale: "fr-FR" });
  const page = await signIn(context, "associate");
  await page.goto(`${base}/console/customers`);
  await inspect(page, "customers-search");
  await page.fill("#q", `sharing.${stamp}@example.fr`);
  await Promise.all([page.waitForNavigation(), page.click("form[role=search] button")]);
  assert((await page.textContent("h1")).includes("Chloé Partage"), "the sharing customer's card");
  assert((await page.textContent("#consents")).includes("service_history_sharing"), "consents shown");
  await inspect(page, "customer-card");
  // A visit noted on the card lands in the service history under the associate's name.
  await page.selectOption("#note-medium", "store_visit");
  await page.fill("#note-summary", "Essayé la chaussure de trail en 42, repasse samedi");
  await Promise.all([page.waitForNavigation(), page.click("#note-form button[type=submit]")]);
  assert(await page.isVisible("#note-done"), "the note is confirmed");
  const noted = await api("GET", `/v1/customers/${sharing.id}/interactions`, keys.service);
  assert(noted.data.some((i) => i.medium === "store_visit" && i.location_code === "LYS-BELLECOUR"), JSON.stringify(noted));
  await page.goto(`${base}/console/customers`);
  await page.fill("#q", `private.${stamp}@example.fr`);
  const [response] = await Promise.all([page.waitForNavigation(), page.click("form[role=search] button")]);
  assert(response.status() === 403, `a Paris customer who shares nothing is not Lyon's to see: ${response.status()}`);
  assert(!(await page.content()).includes("Privé"), "nothing of them shown");
  await inspect(page, "customer-refused");
  await context.close();
});

await check("kpi-dashboard", async () => {
  const context = await browser.newContext({ viewport, locale: "fr-FR", acceptDownloads: true });
  const page = await signIn(context, "manager");
  await page.goto(`${base}/console/kpis`);
  const bars = await page.locator("#chart-orders rect").count();
  assert(bars >= 2, `the orders chart has bars: ${bars}`);
  const tiles = await page.locator("#tiles .tile").count();
  assert(tiles >= 8, `tiles: ${tiles}`);
  await inspect(page, "kpis");
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("a[download]")]);
  const csv = readFileSync(await download.path(), "utf8");
  assert(csv.startsWith("metric,channel,mode,place,currency,value\norders,"), csv.slice(0, 200));
  await page.selectOption("#days", "7");
  await Promise.all([page.waitForNavigation(), page.click("form.bar button[type=submit]")]);
  assert(page.url().includes("days=7"), page.url());
  await context.close();
});

await check("stock-transfers-and-codes", async () => {
  // Lyon receives the first replenishment the demo sent it, then ships a pair to Paris.
  const context = await browser.newContext({ viewport, locale: "fr-FR" });
  const page = await signIn(context, "manager");
  await page.goto(`${base}/console/stock`);
  const arriving = await page.locator("#arriving tbody tr").count();
  assert(arriving >= 1, `transfers to receive: ${arriving}`);
  await inspect(page, "stock");
  await Promise.all([page.waitForNavigation(), page.click("#arriving tbody tr:first-child button")]);
  assert(await page.isVisible("#stock-done"), "the receipt is confirmed");
  assert((await page.locator("#arriving tbody tr").count()) === arriving - 1, "one fewer to receive");
  const sku = await page.textContent("#stock tbody tr:last-child td:first-child");
  await page.fill("#ship-sku", sku);
  await page.selectOption("#ship-to", "PAR-RIVOLI");
  await page.fill("#ship-quantity", "1");
  await Promise.all([page.waitForNavigation(), page.click("#ship-form button[type=submit]")]);
  assert(await page.isVisible("#stock-done"), "the shipment is confirmed");
  assert((await page.textContent("#leaving")).includes(sku), "the shipment is on its way");
  await context.close();
  // A marketer makes a batch of codes for a campaign and sees them listed.
  const marketing = await browser.newContext({ viewport, locale: "fr-FR" });
  const m = await signIn(marketing, "marketer");
  await m.goto(`${base}/console/promotions`);
  await Promise.all([m.waitForNavigation(), m.click("#promotions a[href$='/coupons']")]);
  const before = await m.locator("#codes tbody tr").count();
  await m.fill("#count", "5");
  await m.fill("#prefix", "NOEL");
  await Promise.all([m.waitForNavigation(), m.click("#make-codes button[type=submit]")]);
  assert(await m.isVisible("#codes-made"), "codes made");
  assert((await m.locator("#codes tbody tr").count()) === before + 5, "five more codes listed");
  await inspect(m, "coupons");
  await marketing.close();
});

await check("every-section-in-english", async () => {
  // Each role's sections, in English this time (the user's language is set by an admin).
  const admin = (await api("GET", "/v1/staff-users?limit=20", keys.admin)).data;
  for (const who of ["service", "marketer", "admin"]) {
    const user = admin.find((u) => u.email === USERS[who][0]);
    await api("PATCH", `/v1/staff-users/${user.id}`, keys.admin, { language: "en" });
    const context = await browser.newContext({ viewport, locale: "en-GB" });
    const page = await signIn(context, who);
    const links = await page.locator("nav a").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
    assert(links.length >= 2, `${who} sees sections: ${links}`);
    for (const href of links) {
      const response = await page.goto(base + href);
      assert(response.status() === 200, `${who} ${href}: ${response.status()}`);
      assert((await page.getAttribute("html", "lang")) === "en", "in English");
      await inspect(page, `${who}${href.replaceAll("/", "-")}`);
    }
    await context.close();
  }
});

await browser.close();
console.log(`console-check: pages inspected: ${pagesSeen.join(", ")}`);
process.exit(failed);
