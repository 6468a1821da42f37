/**
 * The citewise VS Code extension: starts `python -m citewise serve`, shows suggestions in a
 * side view and the index state in the status bar, and offers the citewise commands.
 */
import * as vscode from "vscode";
import { ExecuteCommandRequest, LanguageClient, LanguageClientOptions, ServerOptions, State } from "vscode-languageclient/node";
import packageJson from "../package.json";
import { applyEditsSavingBibs } from "./applyEdit";
import { ProgressNotificationsFeature } from "./progress";
import { registerMcpServer } from "./mcp";
import { checkCitewise, choosePython, installCommand, PythonChoice, serverArgs } from "./python";
import { Paper, pickPaper } from "./search";
import { SECTION, serverSettingNames, serverSettings, withoutClientSettings } from "./settings";
import { ServerStatus, statusView, ZoteroState } from "./status";
import { SuggestionsNotification } from "./suggestions";
import { SuggestionsView } from "./suggestionsView";

const LANGUAGES = ["latex", "tex", "bibtex", "markdown", "rmd", "rmarkdown", "quarto"];
const ZOTERO_KEY_SECRET = "citewise.zoteroApiKey";
const STATUS_REFRESH_MS = 10_000;

let client: LanguageClient | undefined;
let output: vscode.OutputChannel;
let statusItem: vscode.StatusBarItem;
let statusTimer: NodeJS.Timeout | undefined;
let lastStatus: ServerStatus | undefined;
const zotero: ZoteroState = { library: null, syncing: false };
const suggestions = new SuggestionsView();

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("citewise");
  statusItem = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  statusItem.command = "citewise.ui.showStatus";
  context.subscriptions.push(
    output,
    statusItem,
    vscode.window.registerTreeDataProvider("citewise.suggestions", suggestions),
    vscode.window.onDidChangeActiveTextEditor(() => suggestions.refresh()),
    vscode.workspace.onDidCloseTextDocument((document) => suggestions.store.forget(document.uri.toString())),
    ...registerCommands(context),
    ...registerMcpServer(
      async () => choosePython(config().get<string>("python"), await pythonFromPythonExtension()).command,
      () => config().get<string>("indexPath"),
      packageJson.version,
    ),
  );
  await startServer(context);
}

export async function deactivate(): Promise<void> {
  clearInterval(statusTimer);
  await client?.stop();
}

function registerCommands(context: vscode.ExtensionContext): vscode.Disposable[] {
  const command = (name: string, run: (...args: unknown[]) => unknown) =>
    vscode.commands.registerCommand(`citewise.ui.${name}`, async (...args: unknown[]) => {
      try {
        await run(...args);
      } catch (error) {
        void vscode.window.showErrorMessage(`citewise: ${error instanceof Error ? error.message : String(error)}`);
      }
    });
  return [
    command("searchPapers", () => searchPapers(false)),
    command("insertCitation", (key) => (typeof key === "string" ? citeAtCursor(key) : searchPapers(true))),
    command("citeSuggestion", (row) => citeAtCursor(typeof row === "string" ? row : (row as { key: string }).key)),
    command("dismissSuggestion", async (row) => {
      const key = typeof row === "string" ? row : (row as { key: string }).key;
      suggestions.dismiss(key);
      await executeServerCommand("citewise.dismissSuggestion", [key]);
    }),
    command("generateBib", generateBib),
    command("syncZotero", syncZotero),
    command("reindex", () => runServerCommand("citewise.reindex", [], "Index rebuilt")),
    command("enrichIndex", () => runServerCommand("citewise.enrichIndex", [], "Index enriched from the registries")),
    command("restartServer", () => restartServer(context)),
    command("showLogs", () => output.show()),
    command("setZoteroApiKey", () => setZoteroApiKey(context)),
    command("showStatus", showStatus),
  ];
}

async function startServer(context: vscode.ExtensionContext): Promise<void> {
  const python = choosePython(config().get<string>("python"), await pythonFromPythonExtension());
  output.appendLine(`citewise: using ${python.command} (${python.source})`);
  const check = await checkCitewise(python.command);
  if (!check.ok) {
    showStatusView(undefined, "stopped");
    void offerInstall(python, check.problem);
    return;
  }
  const zoteroApiKey = await context.secrets.get(ZOTERO_KEY_SECRET);
  const serverOptions: ServerOptions = {
    command: python.command,
    args: serverArgs(),
    options: { env: { ...process.env, ...(zoteroApiKey ? { ZOTERO_API_KEY: zoteroApiKey } : {}) } },
  };
  const names = serverSettingNames(packageJson.contributes.configuration.properties);
  const clientOptions: LanguageClientOptions = {
    documentSelector: LANGUAGES.map((language) => ({ scheme: "file", language })),
    synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher("**/*.bib") },
    initializationOptions: serverSettings(names, (name) => config().get(name)),
    outputChannel: output,
    middleware: {
      workspace: {
        configuration: async (params, token, next) => {
          const result = await next(params, token);
          return Array.isArray(result) ? result.map(withoutClientSettings) : result;
        },
      },
    },
  };
  client = new LanguageClient("citewise", "citewise", serverOptions, clientOptions);
  client.registerFeature(new ProgressNotificationsFeature(client));
  applyEditsSavingBibs(client);
  client.onNotification("citewise/suggestions", (notification: SuggestionsNotification) => suggestions.show(notification));
  client.onDidChangeState(({ newState }) => {
    if (newState === State.Stopped) {
      showStatusView(undefined, "stopped");
    }
  });
  showStatusView(undefined, "starting");
  try {
    await client.start();
  } catch (error) {
    showStatusView(undefined, "stopped");
    void vscode.window.showErrorMessage(`citewise: the server did not start (${String(error)}); see citewise: Show logs.`);
    return;
  }
  await refreshStatus();
  statusTimer = setInterval(() => void refreshStatus(), STATUS_REFRESH_MS);
}

async function restartServer(context: vscode.ExtensionContext): Promise<void> {
  clearInterval(statusTimer);
  suggestions.clear();
  if (client) {
    await client.stop();
    client = undefined;
  }
  await startServer(context);
}

function config(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration(SECTION);
}

interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string };
    resolveEnvironment(path: string): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
  };
}

/** The interpreter selected in the Python extension (ms-python.python), when it is installed. */
async function pythonFromPythonExtension(): Promise<string | undefined> {
  const extension = vscode.extensions.getExtension<PythonExtensionApi>("ms-python.python");
  if (!extension) {
    return undefined;
  }
  try {
    const api = extension.isActive ? extension.exports : await extension.activate();
    const environments = api.environments;
    if (!environments) {
      return undefined;
    }
    const active = environments.getActiveEnvironmentPath(vscode.workspace.workspaceFolders?.[0]?.uri);
    const resolved = await environments.resolveEnvironment(active.path);
    return resolved?.executable.uri?.fsPath ?? active.path;
  } catch (error) {
    output.appendLine(`citewise: the Python extension gave no interpreter (${String(error)})`);
    return undefined;
  }
}

async function offerInstall(python: PythonChoice, problem: string): Promise<void> {
  const install = "Install citewise";
  const choose = "Choose Python";
  const answer = await vscode.window.showErrorMessage(`${problem}. Install it with: ${installCommand(python.command)}`, install, choose);
  if (answer === install) {
    const terminal = vscode.window.createTerminal("citewise install");
    terminal.show();
    terminal.sendText(installCommand(python.command), false);
  } else if (answer === choose) {
    await vscode.commands.executeCommand("workbench.action.openSettings", "citewise.python");
  }
}

function runningClient(): LanguageClient {
  if (!client || !client.isRunning()) {
    throw new Error("the citewise server is not running (citewise: Show logs)");
  }
  return client;
}

async function executeServerCommand<T>(command: string, args: unknown[]): Promise<T> {
  return (await runningClient().sendRequest(ExecuteCommandRequest.type, { command, arguments: args })) as T;
}

async function runServerCommand(command: string, args: unknown[], doneMessage: string): Promise<void> {
  const result = await executeServerCommand<unknown>(command, args);
  await refreshStatus();
  const counts = result && typeof result === "object" ? Object.entries(result as Record<string, unknown>) : [];
  const details = counts
    .filter(([, value]) => typeof value === "number" || typeof value === "string")
    .map(([name, value]) => `${name} ${String(value)}`)
    .join(", ");
  void vscode.window.showInformationMessage(`citewise: ${doneMessage}${details ? ` (${details})` : ""}.`);
}

async function syncZotero(): Promise<void> {
  zotero.syncing = true;
  showStatusView(lastStatus, "running");
  try {
    await runServerCommand("citewise.syncZotero", [], "Zotero synced");
    zotero.lastSync = new Date().toLocaleTimeString();
    zotero.lastError = undefined;
  } catch (error) {
    zotero.lastError = error instanceof Error ? error.message : String(error);
    throw error;
  } finally {
    zotero.syncing = false;
    showStatusView(lastStatus, "running");
  }
}

async function searchPapers(citeChoice: boolean): Promise<void> {
  const search = (query: string) => executeServerCommand<Paper[]>("citewise.searchPapers", [query, 20]);
  const paper = await pickPaper(search, citeChoice ? "citewise: cite a paper" : "citewise: search papers");
  if (!paper) {
    return;
  }
  if (citeChoice || isDraft(vscode.window.activeTextEditor)) {
    await citeAtCursor(paper.key);
  } else {
    await vscode.env.clipboard.writeText(paper.key);
    void vscode.window.showInformationMessage(`citewise: copied the key ${paper.key}`);
  }
}

function isDraft(editor: vscode.TextEditor | undefined): editor is vscode.TextEditor {
  return editor !== undefined && LANGUAGES.includes(editor.document.languageId) && editor.document.languageId !== "bibtex";
}

/** Cites `key` at the cursor; the server edits the draft and, when needed, the .bib. */
async function citeAtCursor(key: string): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!isDraft(editor)) {
    throw new Error("open a LaTeX or Markdown draft and put the cursor where the citation goes");
  }
  const position = editor.selection.active;
  const uri = editor.document.uri.toString();
  await executeServerCommand("citewise.insertCitation", [uri, { line: position.line, character: position.character }, key]);
}

async function generateBib(): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!isDraft(editor)) {
    throw new Error("open the draft whose .bib should be generated");
  }
  const written = await executeServerCommand<{ path: string }>("citewise.generateBib", [editor.document.uri.toString()]);
  const open = "Open";
  if ((await vscode.window.showInformationMessage(`citewise: wrote ${written.path}`, open)) === open) {
    await vscode.window.showTextDocument(vscode.Uri.file(written.path));
  }
}

async function setZoteroApiKey(context: vscode.ExtensionContext): Promise<void> {
  const key = await vscode.window.showInputBox({
    title: "Zotero API key",
    prompt: "Kept in VS Code's secret storage and passed to the citewise server; empty removes it.",
    password: true,
    ignoreFocusOut: true,
  });
  if (key === undefined) {
    return;
  }
  if (key.trim() === "") {
    await context.secrets.delete(ZOTERO_KEY_SECRET);
  } else {
    await context.secrets.store(ZOTERO_KEY_SECRET, key.trim());
  }
  const restart = "Restart server";
  if ((await vscode.window.showInformationMessage("citewise: the server uses the new key after a restart.", restart)) === restart) {
    await restartServer(context);
  }
}

async function refreshStatus(): Promise<void> {
  if (!client?.isRunning()) {
    return;
  }
  try {
    lastStatus = await executeServerCommand<ServerStatus>("citewise.status", []);
    showStatusView(lastStatus, "running");
  } catch (error) {
    output.appendLine(`citewise: status unavailable (${String(error)})`);
  }
}

function showStatusView(status: ServerStatus | undefined, state: "starting" | "running" | "stopped"): void {
  zotero.library = config().get<string | null>("zoteroLibrary") || null;
  const view = statusView(status, state, zotero);
  statusItem.text = view.text;
  statusItem.tooltip = view.tooltip;
  statusItem.show();
}

async function showStatus(): Promise<void> {
  await refreshStatus();
  const view = statusView(lastStatus, client?.isRunning() ? "running" : "stopped", zotero);
  const logs = "Show logs";
  if ((await vscode.window.showInformationMessage(view.tooltip, { modal: true }, logs)) === logs) {
    output.show();
  }
}
