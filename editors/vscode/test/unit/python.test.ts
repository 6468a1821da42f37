/** Choosing the Python interpreter and checking that citewise is importable there. */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { checkCitewise, choosePython, installCommand, mcpServerArgs, serverArgs } from "../../src/python";

const REPO_PYTHON = resolve(__dirname, "../../../../../.venv/bin/python");

test("the citewise.python setting wins over the Python extension", () => {
  assert.deepEqual(choosePython("/opt/py/bin/python", "/env/bin/python"), { command: "/opt/py/bin/python", source: "setting" });
});

test("the Python extension's environment is used when the setting is empty", () => {
  assert.deepEqual(choosePython("  ", "/env/bin/python"), { command: "/env/bin/python", source: "python-extension" });
});

test("python3 is the fallback", () => {
  assert.deepEqual(choosePython(undefined, undefined), { command: "python3", source: "default" });
});

test("the server starts as python -m citewise serve", () => {
  assert.deepEqual(serverArgs(), ["-m", "citewise", "serve"]);
});

test("the MCP server gets every workspace folder as a root, and the index when one is set", () => {
  assert.deepEqual(mcpServerArgs(["/w/paper", "/w/notes"], " /data/index.sqlite "), [
    "-m", "citewise", "mcp", "--root", "/w/paper", "--root", "/w/notes", "--index", "/data/index.sqlite",
  ]);
  assert.deepEqual(mcpServerArgs(["/w/paper"], ""), ["-m", "citewise", "mcp", "--root", "/w/paper"]);
});

test("the install command quotes an interpreter path with spaces", () => {
  assert.equal(installCommand("/Users/a b/py"), '"/Users/a b/py" -m pip install citewise');
  assert.equal(installCommand("python3"), "python3 -m pip install citewise");
});

test("a missing interpreter is reported as not found", async () => {
  const check = await checkCitewise("/nonexistent/bin/python9");
  assert.deepEqual(check, { ok: false, problem: "Python interpreter not found: /nonexistent/bin/python9" });
});

test("an environment without citewise is reported as such", async () => {
  const folder = mkdtempSync(join(tmpdir(), "citewise-venv-"));
  try {
    execFileSync("python3", ["-m", "venv", "--without-pip", folder]);
    const python = join(folder, "bin", "python");
    assert.deepEqual(await checkCitewise(python), { ok: false, problem: `citewise is not installed in ${python}` });
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

test("the project's own environment has citewise", { skip: !existsSync(REPO_PYTHON) && "no .venv in the checkout" }, async () => {
  assert.deepEqual(await checkCitewise(REPO_PYTHON), { ok: true });
});
