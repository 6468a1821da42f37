/** The paper search QuickPick: results follow the typed query, fetched from the server's `citewise.searchPapers`. */
import * as vscode from "vscode";

export interface Paper {
  key: string;
  title?: string;
  authors?: string[] | string;
  year?: number | string | null;
  venue?: string | null;
}

interface PaperPick extends vscode.QuickPickItem {
  paper: Paper;
}

const TYPING_PAUSE_MS = 150;

/** Lets the user search the index; resolves to the chosen paper, or undefined when dismissed. */
export function pickPaper(search: (query: string) => Promise<Paper[]>, title: string): Promise<Paper | undefined> {
  const quickPick = vscode.window.createQuickPick<PaperPick>();
  quickPick.title = title;
  quickPick.placeholder = "Type an author, title words, a year or a key";
  quickPick.matchOnDescription = true;
  quickPick.matchOnDetail = true;
  let timer: NodeJS.Timeout | undefined;
  let latestQuery = "";

  quickPick.onDidChangeValue((query) => {
    latestQuery = query;
    clearTimeout(timer);
    timer = setTimeout(() => void update(query), TYPING_PAUSE_MS);
  });

  async function update(query: string): Promise<void> {
    if (query.trim() === "") {
      quickPick.items = [];
      return;
    }
    quickPick.busy = true;
    try {
      const papers = await search(query);
      if (query === latestQuery) {
        quickPick.items = papers.map(toPick);
      }
    } finally {
      quickPick.busy = query !== latestQuery;
    }
  }

  return new Promise((resolve) => {
    quickPick.onDidAccept(() => {
      resolve(quickPick.selectedItems[0]?.paper);
      quickPick.hide();
    });
    quickPick.onDidHide(() => {
      clearTimeout(timer);
      resolve(undefined);
      quickPick.dispose();
    });
    quickPick.show();
  });
}

function toPick(paper: Paper): PaperPick {
  const authors = Array.isArray(paper.authors) ? paper.authors.join(", ") : paper.authors ?? "";
  const year = paper.year ? String(paper.year) : "";
  return {
    label: paper.title || paper.key,
    description: [authors, year].filter(Boolean).join(" · "),
    detail: [paper.key, paper.venue ?? ""].filter(Boolean).join(" · "),
    alwaysShow: true,
    paper,
  };
}
