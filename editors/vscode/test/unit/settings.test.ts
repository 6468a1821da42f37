/** Which settings reach the server, checked against the contributed settings in package.json. */
import { strict as assert } from "node:assert";
import { test } from "node:test";
import packageJson from "../../package.json";
import { serverSettingNames, serverSettings, withoutClientSettings } from "../../src/settings";

const properties = packageJson.contributes.configuration.properties;

test("every contributed setting has a description and a default", () => {
  for (const [name, schema] of Object.entries(properties) as [string, Record<string, unknown>][]) {
    assert.ok(schema.description || schema.markdownDescription, `${name} has no description`);
    assert.ok("default" in schema, `${name} has no default`);
  }
});

test("the server gets the server's settings, not the extension's own", () => {
  const names = serverSettingNames(properties);
  assert.ok(names.includes("indexPath") && names.includes("citeCommand") && names.includes("zoteroLibrary"));
  assert.ok(!names.includes("python"));
  assert.ok(!names.some((name) => name.startsWith("trace")));
});

test("empty strings become null so the server falls back to its default", () => {
  const values: Record<string, unknown> = { indexPath: "", suggestionCount: 7, citeCommand: { latex: "\\citep" } };
  const sent = serverSettings(["indexPath", "suggestionCount", "citeCommand", "model"], (name) => values[name]);
  assert.deepEqual(sent, { indexPath: null, suggestionCount: 7, citeCommand: { latex: "\\citep" } });
});

test("workspace/configuration answers drop the extension's own settings", () => {
  const section = { python: "/usr/bin/python3", trace: { server: "off" }, indexPath: "/x.sqlite", claimHints: true };
  assert.deepEqual(withoutClientSettings(section), { indexPath: "/x.sqlite", claimHints: true });
  assert.equal(withoutClientSettings(null), null);
});
