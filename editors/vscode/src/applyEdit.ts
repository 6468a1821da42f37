/**
 * The server's workspace edits, applied as vscode-languageclient applies them, after which the
 * .bib files they changed are saved when they had no unsaved changes before: a cited paper's
 * entry is then on disk for the next LaTeX build. Drafts are left for the user to save.
 */
import * as vscode from "vscode";
import {
  ApplyWorkspaceEditParams,
  ApplyWorkspaceEditRequest,
  ApplyWorkspaceEditResult,
  LanguageClient,
  TextDocumentEdit,
} from "vscode-languageclient/node";

export function applyEditsSavingBibs(client: LanguageClient): vscode.Disposable {
  return client.onRequest(ApplyWorkspaceEditRequest.type, (params) => applyEdit(client, params));
}

async function applyEdit(client: LanguageClient, params: ApplyWorkspaceEditParams): Promise<ApplyWorkspaceEditResult> {
  if (editsAnOutdatedDocument(client, params)) {
    return { applied: false, failureReason: "the document changed since the server computed the edit" };
  }
  const edit = await client.protocol2CodeConverter.asWorkspaceEdit(params.edit);
  const cleanBibs = edit
    .entries()
    .map(([uri]) => uri)
    .filter((uri) => uri.path.endsWith(".bib") && !openDocument(uri)?.isDirty);
  const applied = await vscode.workspace.applyEdit(edit);
  if (applied) {
    for (const uri of cleanBibs) {
      await openDocument(uri)?.save();
    }
  }
  return { applied };
}

/** An edit for a document version that is no longer the open one (the check the built-in handler makes). */
function editsAnOutdatedDocument(client: LanguageClient, params: ApplyWorkspaceEditParams): boolean {
  return (params.edit.documentChanges ?? []).some((change) => {
    if (!TextDocumentEdit.is(change) || change.textDocument.version === null || change.textDocument.version < 0) {
      return false;
    }
    const document = openDocument(client.protocol2CodeConverter.asUri(change.textDocument.uri));
    return document !== undefined && document.version !== change.textDocument.version;
  });
}

function openDocument(uri: vscode.Uri): vscode.TextDocument | undefined {
  return vscode.workspace.textDocuments.find((document) => document.uri.toString() === uri.toString());
}
