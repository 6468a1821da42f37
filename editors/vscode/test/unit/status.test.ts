/** The status bar text and details for the server's citewise.status reply. */
import { strict as assert } from "node:assert";
import { test } from "node:test";
import { statusView } from "../../src/status";

const status = {
  indexPath: "/data/index.sqlite",
  indexCount: 12345,
  modelReady: false,
  model: null,
  problem: null,
  openDocuments: 1,
  bibFiles: [{ path: "/p/refs.bib", entries: 183, errors: 2 }],
};

test("while the model loads, the item says so next to the index size", () => {
  const view = statusView(status, "running");
  assert.equal(view.text, "$(book) 12,345 papers $(loading~spin) model");
  assert.match(view.tooltip, /loading \(lexical ranking meanwhile\)/);
  assert.match(view.tooltip, /refs\.bib \(183 entries, 2 errors\)/);
  assert.match(view.tooltip, /Zotero: not connected/);
});

test("a ready model and a running Zotero sync", () => {
  const view = statusView({ ...status, modelReady: true, model: "all-MiniLM-L6-v2", zotero: { state: "syncing" } }, "running");
  assert.equal(view.text, "$(book) 12,345 papers $(sync~spin) Zotero");
  assert.match(view.tooltip, /all-MiniLM-L6-v2 \(semantic ranking on\)/);
});

test("a model that failed to load is shown as a warning", () => {
  const view = statusView({ ...status, problem: "no such model" }, "running");
  assert.equal(view.text, "$(book) 12,345 papers $(warning)");
  assert.match(view.tooltip, /failed: no such model/);
});

test("a stopped server", () => {
  assert.equal(statusView(undefined, "stopped").text, "$(error) citewise");
});
