/** The status bar text and details for the server's citewise.status reply and the Zotero state. */
import { strict as assert } from "node:assert";
import { test } from "node:test";
import { statusView } from "../../src/status";

const status = {
  ready: true,
  indexPath: "/data/index.sqlite",
  indexCount: 12345,
  modelReady: false,
  modelState: "loading",
  model: null,
  problem: null,
  bibFiles: [{ path: "/p/refs.bib", entries: 183, errors: 2 }],
};
const noZotero = { library: null, syncing: false };

test("while the model loads, the item says so next to the index size", () => {
  const view = statusView(status, "running", noZotero);
  assert.equal(view.text, "$(book) 12,345 papers $(sync~spin) model");
  assert.match(view.tooltip, /loading \(lexical ranking meanwhile\)/);
  assert.match(view.tooltip, /refs\.bib \(183 entries, 2 errors\)/);
  assert.match(view.tooltip, /Zotero: not set up/);
});

test("a ready model and a running Zotero sync", () => {
  const ready = { ...status, modelReady: true, model: "all-MiniLM-L6-v2" };
  const view = statusView(ready, "running", { library: "users/42", syncing: true });
  assert.equal(view.text, "$(book) 12,345 papers $(sync~spin) Zotero");
  assert.match(view.tooltip, /all-MiniLM-L6-v2 \(semantic ranking on\)/);
  assert.match(view.tooltip, /Zotero: syncing users\/42/);
  const failed = statusView(ready, "running", { library: "users/42", syncing: false, lastError: "403: bad key" });
  assert.match(failed.tooltip, /last sync failed: 403: bad key/);
});

test("a model that failed to load is shown as a warning", () => {
  const view = statusView({ ...status, problem: "no such model" }, "running", noZotero);
  assert.equal(view.text, "$(book) 12,345 papers $(warning)");
  assert.match(view.tooltip, /failed: no such model/);
});

test("a server that is not ready, and a stopped server", () => {
  assert.equal(statusView({ ready: false, error: "index locked" }, "running", noZotero).tooltip, "citewise is not ready: index locked");
  assert.equal(statusView(undefined, "stopped", noZotero).text, "$(error) citewise");
});
