// Loads vscode-extension/extension.js with a stand-in `vscode` API and language client, activates it,
// runs "DyGram: Render preview" on argv[2] (with dygram.server.path = argv[3]) and prints what happened.
"use strict";

const Module = require("module");
const path = require("path");

const [, , dygramFile, serverPath] = process.argv;
const registered = {};
const started = [];
const panels = [];
const messages = [];

const vscode = {
  ViewColumn: { Beside: -2 },
  workspace: {
    workspaceFolders: undefined,
    getConfiguration: () => ({ get: (key, fallback) => (key === "server.path" ? serverPath : fallback) }),
    onDidSaveTextDocument: () => ({ dispose() {} }),
    onDidChangeConfiguration: () => ({ dispose() {} }),
  },
  window: {
    createOutputChannel: () => ({ appendLine() {}, dispose() {} }),
    showErrorMessage: (m) => messages.push(m),
    showWarningMessage: (m) => messages.push(m),
    createWebviewPanel: (viewType, title) => {
      const panel = { viewType, title, webview: { html: "" }, reveal() {}, onDidDispose() {} };
      panels.push(panel);
      return panel;
    },
    activeTextEditor: {
      document: {
        languageId: "dygram",
        fileName: dygramFile,
        isUntitled: false,
        isDirty: false,
        uri: { toString: () => "file://" + dygramFile },
        save: async () => true,
      },
    },
  },
  commands: {
    registerCommand: (name, fn) => {
      registered[name] = fn;
      return { dispose() {} };
    },
  },
};

class LanguageClient {
  constructor(id, name, serverOptions, clientOptions) {
    started.push({ id, command: serverOptions.run.command, args: serverOptions.run.args,
                   selector: clientOptions.documentSelector.map((s) => s.language) });
  }
  async start() {}
  async stop() {}
}

const originalLoad = Module._load;
Module._load = function (request, parent, isMain) {
  if (request === "vscode") return vscode;
  if (request === "vscode-languageclient/node") return { LanguageClient, TransportKind: { stdio: 0 } };
  return originalLoad.call(this, request, parent, isMain);
};

(async () => {
  const extension = require(path.resolve(__dirname, "../../vscode-extension/extension.js"));
  const context = { subscriptions: [] };
  await extension.activate(context);
  await registered["dygram.renderPreview"]();
  const html = panels.length ? panels[0].webview.html : "";
  process.stdout.write(JSON.stringify({
    commands: Object.keys(registered).sort(),
    started,
    panels: panels.map((p) => p.title),
    previewHasSvg: /<svg[\s\S]*<\/svg>/.test(html),
    previewText: html.slice(0, 2000),
    messages,
    subscriptions: context.subscriptions.length,
  }) + "\n");
  await extension.deactivate();
})().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exitCode = 1;
});
