/**
 * What the status bar item says, from the server's `citewise.status` reply
 * (server/features/workspace.py Workspace.status, plus the Zotero state when sync is set up).
 * Plain TypeScript: no VS Code API, so the unit tests run it directly.
 */

export interface ServerStatus {
  indexPath?: string;
  indexCount?: number;
  modelReady?: boolean;
  model?: string | null;
  problem?: string | null;
  openDocuments?: number;
  bibFiles?: { path: string; entries: number; errors: number }[];
  zotero?: { state?: string; library?: string | null; lastSync?: string | null } | string | null;
}

export type ServerState = "starting" | "running" | "stopped";

export interface StatusView {
  text: string;
  tooltip: string;
}

/** Short text for the status bar ("$(book) 1,234 papers", with spinners while loading) and the details. */
export function statusView(status: ServerStatus | undefined, state: ServerState): StatusView {
  if (state !== "running" || status === undefined) {
    return { text: state === "stopped" ? "$(error) citewise" : "$(sync~spin) citewise", tooltip: `citewise server: ${state}` };
  }
  const zotero = zoteroState(status);
  const parts = [`$(book) ${(status.indexCount ?? 0).toLocaleString("en-US")} papers`];
  if (status.problem) {
    parts.push("$(warning)");
  } else if (!status.modelReady) {
    parts.push("$(loading~spin) model");
  }
  if (zotero === "syncing") {
    parts.push("$(sync~spin) Zotero");
  }
  const lines = [
    `Index: ${status.indexPath ?? "?"} (${status.indexCount ?? 0} papers)`,
    `Model: ${status.problem ? `failed: ${status.problem}` : status.modelReady ? `${status.model ?? "ready"} (semantic ranking on)` : "loading (lexical ranking meanwhile)"}`,
    `Zotero: ${zotero}`,
    ...(status.bibFiles ?? []).map((bib) => `.bib: ${bib.path} (${bib.entries} entries${bib.errors ? `, ${bib.errors} errors` : ""})`),
  ];
  return { text: parts.join(" "), tooltip: lines.join("\n") };
}

function zoteroState(status: ServerStatus): string {
  const zotero = status.zotero;
  if (!zotero) {
    return "not connected";
  }
  if (typeof zotero === "string") {
    return zotero;
  }
  const state = zotero.state ?? "connected";
  return zotero.lastSync ? `${state}, last sync ${zotero.lastSync}` : state;
}
