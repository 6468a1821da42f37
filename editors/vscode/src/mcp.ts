/**
 * Offers `citewise mcp` to VS Code's chat agents through `vscode.lm.registerMcpServerDefinitionProvider`.
 * That API arrived after VS Code 1.100 and is missing from the @types/vscode this extension builds
 * against, so it is looked up at runtime: where the running VS Code lacks it, or has it only as a
 * proposal that refuses other extensions (1.100), nothing is registered and `.vscode/mcp.json`
 * (see the README) does the same by hand.
 */
import * as vscode from "vscode";
import { mcpServerArgs } from "./python";

export const MCP_PROVIDER_ID = "citewise.mcp";

type StdioDefinitionClass = new (
  label: string,
  command: string,
  args?: string[],
  env?: Record<string, string | number | null>,
  version?: string,
) => object;

interface McpServerDefinitionProvider {
  readonly onDidChangeMcpServerDefinitions?: vscode.Event<void>;
  provideMcpServerDefinitions(token: vscode.CancellationToken): vscode.ProviderResult<object[]>;
}

interface McpCapableVscode {
  lm?: { registerMcpServerDefinitionProvider?(id: string, provider: McpServerDefinitionProvider): vscode.Disposable };
  McpStdioServerDefinition?: StdioDefinitionClass;
}

/**
 * Registers the provider when the running VS Code supports it; the disposables to keep.
 * `python()` names the interpreter that has citewise, `indexPath()` the configured index.
 */
export function registerMcpServer(
  python: () => Promise<string>,
  indexPath: () => string | undefined,
  version: string,
): vscode.Disposable[] {
  const api = vscode as unknown as McpCapableVscode;
  const lm = api.lm;
  const StdioDefinition = api.McpStdioServerDefinition;
  if (!lm?.registerMcpServerDefinitionProvider || !StdioDefinition) {
    return [];
  }
  const changed = new vscode.EventEmitter<void>();
  const provider: McpServerDefinitionProvider = {
    onDidChangeMcpServerDefinitions: changed.event,
    provideMcpServerDefinitions: async () => {
      const roots = (vscode.workspace.workspaceFolders ?? []).map((folder) => folder.uri.fsPath);
      if (roots.length === 0) {
        return [];
      }
      return [new StdioDefinition("citewise", await python(), mcpServerArgs(roots, indexPath()), {}, version)];
    },
  };
  let registration: vscode.Disposable;
  try {
    registration = lm.registerMcpServerDefinitionProvider(MCP_PROVIDER_ID, provider);
  } catch {
    changed.dispose();  // VS Code 1.100 has the API only as a proposal, which throws for other extensions
    return [];
  }
  return [
    changed,
    registration,
    vscode.workspace.onDidChangeWorkspaceFolders(() => changed.fire()),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("citewise.python") || event.affectsConfiguration("citewise.indexPath")) {
        changed.fire();
      }
    }),
  ];
}
