/**
 * Shows the server's work-done progress (model loading, reindex, Zotero sync) as VS Code
 * progress notifications with a Cancel button; vscode-languageclient would only show it in
 * the status bar.
 */
import * as vscode from "vscode";
import {
  ClientCapabilities,
  FeatureState,
  LanguageClient,
  StaticFeature,
  WorkDoneProgress,
  WorkDoneProgressBegin,
  WorkDoneProgressCancelNotification,
  WorkDoneProgressCreateRequest,
  WorkDoneProgressReport,
} from "vscode-languageclient/node";

type ProgressToken = number | string;

/**
 * Replaces the client's own handler for window/workDoneProgress/create. Features initialize in
 * the order they were registered, right after `initialized` is sent, so this one (registered after
 * the built-in ones) is in place before the server can ask.
 */
export class ProgressNotificationsFeature implements StaticFeature {
  constructor(private readonly client: LanguageClient) {}

  fillClientCapabilities(capabilities: ClientCapabilities): void {
    capabilities.window = { ...capabilities.window, workDoneProgress: true };
  }

  initialize(): void {
    this.client.onRequest(WorkDoneProgressCreateRequest.type, ({ token }) => followProgress(this.client, token));
  }

  getState(): FeatureState {
    return { kind: "static" };
  }

  clear(): void {}
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
