/**
 * Shows the server's work-done progress (model loading, reindex, Zotero sync) as VS Code
 * progress notifications with a Cancel button; vscode-languageclient would only show it in
 * the status bar.
 */
import * as vscode from "vscode";
import {
  LanguageClient,
  WorkDoneProgress,
  WorkDoneProgressBegin,
  WorkDoneProgressCancelNotification,
  WorkDoneProgressCreateRequest,
  WorkDoneProgressReport,
} from "vscode-languageclient/node";

type ProgressToken = number | string;

/** Call after the client has started: replaces the client's own handler for progress it is asked to create. */
export function showServerProgressAsNotifications(client: LanguageClient): void {
  client.onRequest(WorkDoneProgressCreateRequest.type, ({ token }) => {
    followProgress(client, token);
  });
}

function followProgress(client: LanguageClient, token: ProgressToken): void {
  let reported = 0;
  let finish: () => void = () => undefined;
  let report: (value: WorkDoneProgressReport) => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const subscription = client.onProgress(WorkDoneProgress.type, token, (value) => {
    if (value.kind === "begin") {
      start(value);
    } else if (value.kind === "report") {
      report(value);
    } else {
      subscription.dispose();
      finish();
    }
  });

  function start(begin: WorkDoneProgressBegin): void {
    const options = { location: vscode.ProgressLocation.Notification, title: begin.title, cancellable: begin.cancellable === true };
    void vscode.window.withProgress(options, (progress, cancellation) => {
      cancellation.onCancellationRequested(() => {
        void client.sendNotification(WorkDoneProgressCancelNotification.type, { token });
      });
      report = (value) => {
        const increment = value.percentage !== undefined ? Math.max(0, value.percentage - reported) : undefined;
        reported = value.percentage ?? reported;
        progress.report({ message: value.message, increment });
      };
      report({ kind: "report", message: begin.message, percentage: begin.percentage });
      return done;
    });
  }
}
