/**
 * The data behind the "Suggested citations" view: the latest `citewise/suggestions`
 * notification per document, and how each suggested paper is shown.
 * Plain TypeScript: no VS Code API, so the unit tests run it directly.
 */

export interface LspPosition {
  line: number;
  character: number;
}

export interface LspRange {
  start: LspPosition;
  end: LspPosition;
}

export interface SuggestionItem {
  key: string;
  title: string;
  authors: string[] | string;
  year: number | string | null;
  score: number;
  inBib: boolean;
  reason?: string;
}

export interface SuggestionsNotification {
  uri: string;
  range: LspRange;
  items: SuggestionItem[];
}

export interface SuggestionRow {
  key: string;
  label: string;
  description: string;
  tooltip: string;
  inBib: boolean;
  reason: string;
}

/** "Vaswani", "Vaswani and Shazeer", "Vaswani et al." from a list of names (family names or "Given Family"). */
export function shortAuthors(authors: string[] | string): string {
  const names = (Array.isArray(authors) ? authors : authors.split(/\s+and\s+|;\s*/))
    .map((name) => familyName(name))
    .filter((name) => name.length > 0);
  if (names.length === 0) {
    return "";
  }
  if (names.length === 1) {
    return names[0];
  }
  if (names.length === 2) {
    return `${names[0]} and ${names[1]}`;
  }
  return `${names[0]} et al.`;
}

function familyName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.includes(",")) {
    return trimmed.split(",")[0].trim();
  }
  const words = trimmed.split(/\s+/);
  return words[words.length - 1] ?? "";
}

/** One row of the view: the title, then "Family et al. 2020", a mark when the .bib already has it, and why it is suggested. */
export function describeSuggestion(item: SuggestionItem): SuggestionRow {
  const who = shortAuthors(item.authors);
  const year = item.year === null || item.year === undefined || item.year === "" ? "" : String(item.year);
  const byline = [who, year].filter((part) => part.length > 0).join(" ");
  const marker = item.inBib ? "in .bib" : "from index";
  const reason = item.reason ?? "";
  const allAuthors = Array.isArray(item.authors) ? item.authors.join(", ") : item.authors;
  return {
    key: item.key,
    label: item.title || item.key,
    description: [byline, reason || marker].filter((part) => part.length > 0).join(" · "),
    tooltip: `${item.title}\n${allAuthors}${year ? ` (${year})` : ""}\nkey: ${item.key} · ${marker} · score ${item.score.toFixed(2)}` +
      (reason ? `\nwhy: ${reason}` : ""),
    inBib: item.inBib,
    reason,
  };
}

/** Remembers the newest suggestions of each open document; the view shows the active one. */
export class SuggestionStore {
  private readonly byUri = new Map<string, SuggestionsNotification>();

  update(notification: SuggestionsNotification): void {
    this.byUri.set(notification.uri, notification);
  }

  forget(uri: string): void {
    this.byUri.delete(uri);
  }

  clear(): void {
    this.byUri.clear();
  }

  /** Drops a dismissed paper from every document's suggestions until the server sends new ones. */
  dismiss(key: string): void {
    for (const [uri, notification] of this.byUri) {
      this.byUri.set(uri, { ...notification, items: notification.items.filter((item) => item.key !== key) });
    }
  }

  latest(uri: string | undefined): SuggestionsNotification | undefined {
    return uri === undefined ? undefined : this.byUri.get(uri);
  }

  rows(uri: string | undefined): SuggestionRow[] {
    const notification = this.latest(uri);
    if (!notification) {
      return [];
    }
    return [...notification.items].sort((a, b) => b.score - a.score).map(describeSuggestion);
  }
}
