// VS Code client for DyGram: starts `dygraph lsp` over stdio and renders diagram previews.
"use strict";

const vscode = require("vscode");
const cp = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

let client = null;
let output = null;
const previews = new Map(); // document uri -> webview panel

function expandVariables(text) {
  // VS Code does not expand variables in extension settings; `${workspaceFolder}` is the useful one.
  return text.replace(/\$\{workspaceFolder\}/g, workspaceCwd() || ".");
}

function settings() {
  const config = vscode.workspace.getConfiguration("dygram");
  return {
    command: expandVariables(config.get("server.path", "dygraph")),
    args: config.get("server.args", ["lsp"]),
    enabled: config.get("server.enabled", true),
  };
}

function workspaceCwd() {
  const folders = vscode.workspace.workspaceFolders;
  return folders && folders.length ? folders[0].uri.fsPath : undefined;
}

async function startClient(context) {
  const { command, args, enabled } = settings();
  if (!enabled) {
    return;
  }
  // Loaded lazily so the preview command keeps working if the dependency is missing.
  const { LanguageClient, TransportKind } = require("vscode-languageclient/node");
  const serverOptions = {
    run: { command, args, transport: TransportKind.stdio, options: { cwd: workspaceCwd() } },
    debug: { command, args, transport: TransportKind.stdio, options: { cwd: workspaceCwd() } },
  };
  const clientOptions = {
    documentSelector: [
      { scheme: "file", language: "dygram" },
      { scheme: "untitled", language: "dygram" },
    ],
    outputChannel: output,
  };
  client = new LanguageClient("dygram", "DyGram language server", serverOptions, clientOptions);
  try {
    await client.start();
  } catch (err) {
    client = null;
    vscode.window.showErrorMessage(
      `DyGram: could not start "${command} ${args.join(" ")}" (${err.message || err}). ` +
        "Install dygraph (pip install dygraph) or set dygram.server.path."
    );
  }
}

async function stopClient() {
  if (client) {
    const running = client;
    client = null;
    await running.stop();
  }
}

function renderSvg(document) {
  const { command } = settings();
  const outFile = path.join(os.tmpdir(), `dygram-preview-${process.pid}-${path.basename(document.fileName)}.svg`);
  return new Promise((resolve, reject) => {
    cp.execFile(
      command,
      ["render", document.fileName, "-o", outFile],
      { cwd: path.dirname(document.fileName), timeout: 60000 },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error((stderr || stdout || err.message).trim()));
          return;
        }
        fs.readFile(outFile, "utf8", (readErr, svg) => (readErr ? reject(readErr) : resolve(svg)));
      }
    );
  });
}

function escapeHtml(text) {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

function previewHtml(body) {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline';">
<style>body{background:#fff;color:#222;margin:0;padding:12px}svg{max-width:100%;height:auto}pre{white-space:pre-wrap}</style>
</head><body>${body}</body></html>`;
}

async function refreshPreview(document, panel) {
  try {
    const svg = await renderSvg(document);
    panel.webview.html = previewHtml(svg.slice(Math.max(svg.indexOf("<svg"), 0))); // drop the XML prolog
  } catch (err) {
    panel.webview.html = previewHtml(`<pre>${escapeHtml(String(err.message || err))}</pre>`);
  }
}

async function renderPreview() {
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.document.languageId !== "dygram") {
    vscode.window.showWarningMessage("DyGram: open a .dygram file to preview it.");
    return;
  }
  const document = editor.document;
  if (document.isUntitled) {
    vscode.window.showWarningMessage("DyGram: save the file before rendering a preview.");
    return;
  }
  if (document.isDirty) {
    await document.save();
  }
  const key = document.uri.toString();
  let panel = previews.get(key);
  if (panel) {
    panel.reveal(vscode.ViewColumn.Beside, true);
  } else {
    panel = vscode.window.createWebviewPanel(
      "dygramPreview",
      `Preview ${path.basename(document.fileName)}`,
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      { enableScripts: false }
    );
    previews.set(key, panel);
    panel.onDidDispose(() => previews.delete(key));
  }
  await refreshPreview(document, panel);
}

async function activate(context) {
  output = vscode.window.createOutputChannel("DyGram");
  context.subscriptions.push(
    output,
    vscode.commands.registerCommand("dygram.renderPreview", renderPreview),
    vscode.commands.registerCommand("dygram.restartServer", async () => {
      await stopClient();
      await startClient(context);
    }),
    // Open previews follow the file as it is saved.
    vscode.workspace.onDidSaveTextDocument((document) => {
      const panel = previews.get(document.uri.toString());
      if (panel) {
        refreshPreview(document, panel);
      }
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("dygram.server")) {
        await stopClient();
        await startClient(context);
      }
    })
  );
  await startClient(context);
}

async function deactivate() {
  await stopClient();
}

module.exports = { activate, deactivate };
