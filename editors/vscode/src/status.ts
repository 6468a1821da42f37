/**
 * What the status bar item says: the index size and model state from the server's
 * `citewise.status` reply (server/lsp/commands.py), and the Zotero sync state the extension tracks.
 * Plain TypeScript: no VS Code API, so the unit tests run it directly.
 */

export interface ServerStatus {
  ready?: boolean;
  error?: string | null;
  indexPath?: string;
  indexCount?: number;
  modelReady?: boolean;
  modelState?: string;
  model?: string | null;
  problem?: string | null;
  bibFiles?: { path: string; entries: number; errors: number }[];
  version?: string;
}

export interface ZoteroState {
  library: string | null;
  syncing: boolean;
  lastSync?: string;
  lastError?: string;
}

export type ServerState = "starting" | "running" | "stopped";

export interface StatusView {
  text: string;
  tooltip: string;
}

/** Short text for the status bar ("$(book) 1,234 papers", with spinners while loading) and the details. */
export function statusView(status: ServerStatus | undefined, state: ServerState, zotero: ZoteroState): StatusView {
  if (state !== "running" || status === undefined) {
    return { text: state === "stopped" ? "$(error) citewise" : "$(sync~spin) citewise", tooltip: `citewise server: ${state}` };
  }
  if (status.ready === false) {
    return { text: "$(error) citewise", tooltip: `citewise is not ready: ${status.error ?? "unknown problem"}` };
  }
  const parts = [`$(book) ${(status.indexCount ?? 0).toLocaleString("en-US")} papers`];
  if (status.problem) {
    parts.push("$(warning)");
  } else if (!status.modelReady) {
    parts.push("$(sync~spin) model");
  }
  if (zotero.syncing) {
    parts.push("$(sync~spin) Zotero");
  }
  const model = status.problem
    ? `failed: ${status.problem}`
    : status.modelReady
      ? `${status.model ?? "ready"} (semantic ranking on)`
      : `${status.modelState ?? "loading"} (lexical ranking meanwhile)`;
  const lines = [
    `Index: ${status.indexPath ?? "?"} (${status.indexCount ?? 0} papers)`,
    `Model: ${model}`,
    `Zotero: ${zoteroText(zotero)}`,
    ...(status.bibFiles ?? []).map((bib) => `.bib: ${bib.path} (${bib.entries} entries${bib.errors ? `, ${bib.errors} errors` : ""})`),
  ];
  return { text: parts.join(" "), tooltip: lines.join("\n") };
}

function zoteroText(zotero: ZoteroState): string {
  if (!zotero.library) {
    return "not set up (citewise.zoteroLibrary)";
  }
  if (zotero.syncing) {
    return `syncing ${zotero.library}`;
  }
  if (zotero.lastError) {
    return `${zotero.library}: last sync failed: ${zotero.lastError}`;
  }
  return zotero.lastSync ? `${zotero.library}, synced ${zotero.lastSync}` : `${zotero.library}, not synced in this session`;
}
