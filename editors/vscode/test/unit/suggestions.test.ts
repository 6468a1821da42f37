/** The suggestion view's model: rows per document, ordering and how a paper is described. */
import { strict as assert } from "node:assert";
import { test } from "node:test";
import { describeSuggestion, shortAuthors, SuggestionStore, SuggestionsNotification } from "../../src/suggestions";

const range = { start: { line: 3, character: 0 }, end: { line: 3, character: 40 } };

function notification(uri: string, keys: [string, number, boolean][]): SuggestionsNotification {
  return {
    uri,
    range,
    items: keys.map(([key, score, inBib]) => ({ key, title: `Title of ${key}`, authors: ["Ada Lovelace", "Charles Babbage"], year: 1843, score, inBib })),
  };
}

test("author lists shorten like a citation", () => {
  assert.equal(shortAuthors(["Vaswani, Ashish"]), "Vaswani");
  assert.equal(shortAuthors(["Ashish Vaswani", "Noam Shazeer"]), "Vaswani and Shazeer");
  assert.equal(shortAuthors(["A Vaswani", "N Shazeer", "N Parmar"]), "Vaswani et al.");
  assert.equal(shortAuthors("Vaswani, A. and Shazeer, N. and Parmar, N."), "Vaswani et al.");
  assert.equal(shortAuthors([]), "");
});

test("a row shows the title, byline and whether the .bib has the paper", () => {
  const row = describeSuggestion({ key: "lovelace1843", title: "Notes", authors: ["Ada Lovelace"], year: 1843, score: 0.5, inBib: false });
  assert.equal(row.label, "Notes");
  assert.equal(row.description, "Lovelace 1843 · from index");
  assert.match(row.tooltip, /key: lovelace1843/);
  assert.equal(describeSuggestion({ key: "k", title: "", authors: [], year: null, score: 1, inBib: true }).description, "in .bib");
});

test("the store keeps the newest notification per document, best score first", () => {
  const store = new SuggestionStore();
  store.update(notification("file:///a.tex", [["old", 0.9, true]]));
  store.update(notification("file:///a.tex", [["low", 0.2, false], ["high", 0.8, true]]));
  store.update(notification("file:///b.md", [["other", 0.5, false]]));
  assert.deepEqual(store.rows("file:///a.tex").map((row) => row.key), ["high", "low"]);
  assert.deepEqual(store.rows("file:///b.md").map((row) => row.key), ["other"]);
  store.forget("file:///a.tex");
  assert.deepEqual(store.rows("file:///a.tex"), []);
  assert.deepEqual(store.rows(undefined), []);
});

test("a row says why the paper is suggested", () => {
  const row = describeSuggestion({
    key: "k", title: "Sparse attention", authors: ["Rewon Child"], year: 2019, score: 0.7, inBib: true,
    reason: "matches 'sparse attention' in this sentence; in your .bib",
  });
  assert.equal(row.description, "Child 2019 · matches 'sparse attention' in this sentence; in your .bib");
  assert.match(row.tooltip, /why: matches 'sparse attention'/);
  assert.equal(row.reason, "matches 'sparse attention' in this sentence; in your .bib");
});

test("a dismissed paper leaves every document's rows", () => {
  const store = new SuggestionStore();
  store.update(notification("file:///a.tex", [["keep", 0.9, true], ["gone", 0.8, false]]));
  store.update(notification("file:///b.md", [["gone", 0.5, false]]));
  store.dismiss("gone");
  assert.deepEqual(store.rows("file:///a.tex").map((row) => row.key), ["keep"]);
  assert.deepEqual(store.rows("file:///b.md"), []);
});
