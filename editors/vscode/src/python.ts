/**
 * Which Python runs the citewise server, and whether citewise is installed there.
 * Plain Node.js: no VS Code API, so the unit tests run it directly.
 */
import { execFile } from "node:child_process";

export type PythonSource = "setting" | "python-extension" | "default";

export interface PythonChoice {
  command: string;
  source: PythonSource;
}

export const DEFAULT_PYTHON = "python3";

/** The `citewise.python` setting wins, then the Python extension's environment, then python3. */
export function choosePython(setting: string | undefined, fromPythonExtension: string | undefined): PythonChoice {
  const configured = setting?.trim();
  if (configured) {
    return { command: configured, source: "setting" };
  }
  const selected = fromPythonExtension?.trim();
  if (selected) {
    return { command: selected, source: "python-extension" };
  }
  return { command: DEFAULT_PYTHON, source: "default" };
}

/** The arguments that start the language server on stdio. */
export function serverArgs(): string[] {
  return ["-m", "citewise", "serve"];
}

/** The arguments that start the MCP server for AI assistants, confined to the workspace folders. */
export function mcpServerArgs(roots: string[], indexPath?: string): string[] {
  const index = indexPath?.trim();
  return ["-m", "citewise", "mcp", ...roots.flatMap((root) => ["--root", root]), ...(index ? ["--index", index] : [])];
}

/** The shell command a user runs to install citewise into that interpreter. */
export function installCommand(python: string): string {
  const quoted = /\s/.test(python) ? `"${python}"` : python;
  return `${quoted} -m pip install citewise`;
}

export type CitewiseCheck = { ok: true } | { ok: false; problem: string };

/** Runs the interpreter once to see that it exists and can import citewise's server. */
export function checkCitewise(python: string, timeoutMs = 15000): Promise<CitewiseCheck> {
  return new Promise((resolve) => {
    execFile(python, ["-c", "import citewise.server.cli"], { timeout: timeoutMs }, (error, _stdout, stderr) => {
      if (!error) {
        resolve({ ok: true });
      } else if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        resolve({ ok: false, problem: `Python interpreter not found: ${python}` });
      } else if (/No module named/.test(stderr)) {
        resolve({ ok: false, problem: `citewise is not installed in ${python}` });
      } else {
        const lastLine = stderr.trim().split("\n").pop() ?? error.message;
        resolve({ ok: false, problem: `${python} cannot import citewise: ${lastLine}` });
      }
    });
  });
}
