// The Worker mode's "This month" panel against the real Worker (worker/build in
// Miniflare through tests/worker/helpers.mjs) and the mock provider server, whose
// OpenAI usage (18 text tokens in, 1,056 image tokens out per image) the Worker
// prices: after a paid run the panel's spent amount is the run's `cost_usd`;
// an async job adds its cost once its result is in; with a budget that cannot
// pay the next run, that run shows the Worker's 402 `budget_exceeded` and the
// panel shows nothing left.
import { after, before, test } from "node:test";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { RESULTS, ROOT, assert, launchBrowser, newPage, startNext, waitForRunEnd } from "./helpers.mjs";

const workerHelpers = await import(pathToFileURL(path.join(ROOT, "tests/worker/helpers.mjs")).href);

let mock;
let worker;
let next;
let chrome;

before(async () => {
  if (!fs.existsSync(path.join(ROOT, "worker/build/index.js"))) {
    const r = spawnSync("bash", ["scripts/build-worker.sh"], { cwd: ROOT, stdio: "inherit" });
    assert.equal(r.status, 0, "scripts/build-worker.sh failed");
  }
  next = await startNext({ JWT_SECRET: workerHelpers.JWT_SECRET, IMAGEGEN_DEV_LOGIN: "1" });
  mock = await workerHelpers.startMockServer();
  // No MONTHLY_BUDGET_USD: users have no budget until their config sets one.
  worker = await workerHelpers.startWorker({ mockUrl: mock.url, bindings: { ALLOWED_ORIGINS: next.url } });
  chrome = await launchBrowser();
});

after(async () => {
  await chrome?.close();
  await worker?.close();
  await mock?.close();
  await next?.stop();
});

// The Worker rounds the month's sums to 1e-8 USD.
const close = (a, b) => Math.abs(a - b) < 1e-8;

/**
 * The panel's numbers once it has loaded (`data-state="ok"`) with `spent` spent and, with
 * `nothingLeft`, a budget of which nothing is left.
 */
async function panelWhen(page, { spent, nothingLeft = false }, what) {
  const panel = page.getByTestId("month-usage");
  try {
    await page.waitForFunction(
      (want) => {
        const el = document.querySelector('[data-testid="month-usage"]');
        if (!el || el.getAttribute("data-state") !== "ok") return false;
        const left = el.getAttribute("data-left-usd");
        const spentOk = Math.abs(Number(el.getAttribute("data-spent-usd")) - want.spent) < 1e-8;
        return spentOk && (!want.nothingLeft || (left !== "none" && Number(left) <= 0));
      },
      { spent, nothingLeft },
      { timeout: 15_000 },
    );
  } catch (err) {
    const shown = await panel.evaluate((el) => ({ ...el.dataset, text: el.textContent }));
    throw new Error(`${what}: the panel shows ${JSON.stringify(shown)}`, { cause: err });
  }
  return {
    spent: Number(await panel.getAttribute("data-spent-usd")),
    budget: await panel.getAttribute("data-budget-usd"),
    left: await panel.getAttribute("data-left-usd"),
  };
}

/** Clicks Generate and returns the Worker's JSON answer to that run. */
async function runAndAnswer(page) {
  const answer = page.waitForResponse((r) => r.url().endsWith("/v1/images/generations") && r.request().method() === "POST");
  await page.getByRole("button", { name: "Generate" }).click();
  const response = await answer;
  return { status: response.status(), body: await response.json() };
}

test("Worker mode, This month: spent equals the run's cost; a budget that cannot pay the next run → 402 and nothing left", async () => {
  const { page, context, blocked, consoleErrors } = await newPage(chrome.browser, { viewport: { width: 1280, height: 1100 } });
  await page.goto(next.url);
  await page.getByLabel("Worker", { exact: true }).check();
  await page.getByLabel("Worker URL").fill(worker.url);
  await page.getByLabel("Images", { exact: true }).fill("2");
  const panel = page.getByTestId("month-usage");
  assert.equal(await panel.getAttribute("data-state"), "signed-out");
  assert.match(await panel.textContent(), /first Worker run signs this page in/);

  // A first run on the Worker's mock signs the page in; its user then stores an OpenAI key.
  const login = page.waitForResponse((r) => r.url().endsWith("/api/dev-login"));
  const free = await runAndAnswer(page);
  const { token } = await (await login).json();
  assert.equal(free.status, 200);
  assert.equal(await waitForRunEnd(page), "done");
  const first = await panelWhen(page, { spent: 0 }, "after the mock run");
  assert.equal(first.budget, "none");
  assert.equal(first.left, "none");
  assert.equal(await page.getByTestId("usage-left").textContent(), "no budget");
  assert.equal(await page.getByTestId("usage-spent").textContent(), "$0");

  const key = workerHelpers.fakeKey("www-usage", "openai");
  const put = await worker.request("/v1/keys/openai?validate=false", { method: "PUT", token, json: { apiKey: key } });
  assert.equal(put.status, 200, put.text);

  // A paid run: gpt-image-2 through the mock, priced from its reported usage.
  await page.getByLabel("Model").fill("openai/gpt-image-2");
  const paid = await runAndAnswer(page);
  assert.equal(paid.status, 200, JSON.stringify(paid.body).slice(0, 500));
  assert.equal(await waitForRunEnd(page), "done");
  const cost = paid.body.cost_usd;
  assert.ok(close(cost, (18 * 5 + 2 * 1056 * 30) / 1e6), `cost_usd ${cost}`);
  assert.ok(close(Number(await page.getByTestId("cost").getAttribute("data-cost-usd")), cost));
  const afterPaid = await panelWhen(page, { spent: cost }, "after the paid run");
  assert.ok(close(afterPaid.spent, cost));
  assert.equal(afterPaid.budget, "none");
  const row = page.locator('[data-testid="usage-rows"] tr[data-provider="openai"][data-model="gpt-image-2"]');
  const cells = await row.locator("td").allTextContents();
  assert.equal(cells[0], "2", "images");
  assert.equal(cells[1], "1", "calls");
  assert.equal(cells[2], `$${Number(cost.toFixed(4))}`);
  assert.equal(await page.getByTestId("usage-spent").textContent(), `$${Number(cost.toFixed(4))}`);

  // An async job (one image) refreshes the panel once its result is in.
  await page.getByLabel("Images", { exact: true }).fill("1");
  await page.getByLabel("Async job").check();
  await page.getByRole("button", { name: "Generate" }).click();
  assert.equal(await waitForRunEnd(page), "done", await page.getByTestId("status").textContent());
  const jobCost = Number(await page.getByTestId("cost").getAttribute("data-cost-usd"));
  assert.ok(close(jobCost, (18 * 5 + 1056 * 30) / 1e6), `the job's cost_usd ${jobCost}`);
  const spent = cost + jobCost;
  await panelWhen(page, { spent }, "after the async job");
  assert.deepEqual(await row.locator("td").allTextContents(), ["3", "2", `$${Number(spent.toFixed(4))}`]);
  await page.getByLabel("Async job").uncheck();

  // A budget of exactly what was spent: nothing is left, so the next run cannot be paid.
  const usage = await worker.request("/v1/usage", { token });
  assert.equal(usage.status, 200, usage.text);
  assert.ok(close(usage.json.spent_usd, spent));
  const config = await worker.request("/v1/config", {
    method: "PUT",
    token,
    json: { providers: [{ provider: "openai", model: "gpt-image-2" }], monthlyBudgetUsd: usage.json.spent_usd },
  });
  assert.equal(config.status, 200, config.text);
  const calls = workerHelpers.generationRequests(mock, key).length;
  const refused = await runAndAnswer(page);
  assert.equal(refused.status, 402);
  assert.equal(refused.body.error.code, "budget_exceeded");
  assert.equal(await waitForRunEnd(page), "error");
  assert.equal(workerHelpers.generationRequests(mock, key).length, calls, "no provider call after the budget was spent");
  const error = page.getByTestId("error");
  assert.equal(await error.getAttribute("data-code"), "budget_exceeded");
  const errorText = await error.textContent();
  assert.ok(errorText.includes(refused.body.error.message), errorText);
  assert.match(errorText, /HTTP status402/);
  assert.match(errorText, /Retryableno/);
  const spentOut = await panelWhen(page, { spent, nothingLeft: true }, "after the 402");
  assert.ok(close(spentOut.spent, spent), "the refused run spent nothing");
  assert.ok(close(Number(spentOut.budget), spent));
  assert.equal(await page.getByTestId("usage-left").textContent(), "nothing left");
  assert.equal(await page.getByTestId("usage-budget").textContent(), `$${Number(spent.toFixed(4))}`);

  await page.screenshot({ path: path.join(RESULTS, "usage.png"), fullPage: true });
  assert.deepEqual(blocked, []);
  // The only console error is Chromium's own line for the 402 answer.
  assert.deepEqual(consoleErrors.filter((e) => !/status of 402/.test(e)), []);
  await context.close();
});
