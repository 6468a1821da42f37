/** The "Suggested citations" tree view: the active draft's latest suggestions; a click cites one at the cursor. */
import * as vscode from "vscode";
import { SuggestionRow, SuggestionStore, SuggestionsNotification } from "./suggestions";

export const CITE_SUGGESTION_COMMAND = "citewise.ui.citeSuggestion";
export const DISMISS_SUGGESTION_COMMAND = "citewise.ui.dismissSuggestion";

export class SuggestionsView implements vscode.TreeDataProvider<SuggestionRow> {
  readonly store = new SuggestionStore();
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;

  show(notification: SuggestionsNotification): void {
    this.store.update(notification);
    if (notification.uri === activeUri()) {
      this.changed.fire();
    }
  }

  refresh(): void {
    this.changed.fire();
  }

  dismiss(key: string): void {
    this.store.dismiss(key);
    this.changed.fire();
  }

  clear(): void {
    this.store.clear();
    this.changed.fire();
  }

  getChildren(element?: SuggestionRow): SuggestionRow[] {
    return element ? [] : this.store.rows(activeUri());
  }

  getTreeItem(row: SuggestionRow): vscode.TreeItem {
    const item = new vscode.TreeItem(row.label, vscode.TreeItemCollapsibleState.None);
    item.id = row.key;
    item.description = row.description;
    item.tooltip = row.tooltip;
    item.iconPath = new vscode.ThemeIcon(row.inBib ? "pass" : "add");
    item.contextValue = "citewise.suggestion";
    item.command = { command: CITE_SUGGESTION_COMMAND, title: "Cite at cursor", arguments: [row.key] };
    return item;
  }
}

function activeUri(): string | undefined {
  return vscode.window.activeTextEditor?.document.uri.toString();
}
