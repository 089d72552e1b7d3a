// Tokenize .dygram files with the extension's TextMate grammar, exactly as VS Code does
// (vscode-textmate + vscode-oniguruma), and report every non-blank character that got no scope
// beyond the file's root scope.
//
//   node scripts/tokenize.js FILE...          -> {"files": N, "tokens": T, "untokenized": [...]}; exit 1 if any
//   node scripts/tokenize.js --dump FILE...   -> also "dump": [[file, line, start, end, scopes], ...]
"use strict";

const fs = require("fs");
const path = require("path");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const ROOT = path.resolve(__dirname, "..");
const GRAMMAR = path.join(ROOT, "syntaxes", "dygram.tmLanguage.json");
const SCOPE = "source.dygram";

async function loadRegistry() {
  const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm"));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  return new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (sources) => new oniguruma.OnigScanner(sources),
      createOnigString: (text) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async (scopeName) =>
      scopeName === SCOPE ? vsctm.parseRawGrammar(fs.readFileSync(GRAMMAR, "utf8"), GRAMMAR) : null,
  });
}

function check(grammar, file, dump) {
  const lines = fs.readFileSync(file, "utf8").split(/\r?\n/);
  const problems = [];
  let tokens = 0;
  let state = vsctm.INITIAL;
  lines.forEach((line, index) => {
    const result = grammar.tokenizeLine(line, state);
    for (const token of result.tokens) {
      tokens += 1;
      const text = line.slice(token.startIndex, token.endIndex);
      if (dump) {
        dump.push([file, index + 1, token.startIndex, token.endIndex, token.scopes]);
      }
      if (token.scopes.length < 2 && text.trim() !== "") {
        problems.push({ file, line: index + 1, column: token.startIndex + 1, text });
      }
    }
    state = result.ruleStack;
  });
  return { tokens, problems };
}

async function main() {
  const dumping = process.argv[2] === "--dump";
  const files = process.argv.slice(dumping ? 3 : 2);
  const dump = dumping ? [] : null;
  const registry = await loadRegistry();
  const grammar = await registry.loadGrammar(SCOPE);
  let tokens = 0;
  const untokenized = [];
  for (const file of files) {
    const result = check(grammar, file, dump);
    tokens += result.tokens;
    untokenized.push(...result.problems);
  }
  process.stdout.write(JSON.stringify({ files: files.length, tokens, untokenized, ...(dump ? { dump } : {}) }) + "\n");
  process.exitCode = untokenized.length ? 1 : 0;
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exitCode = 2;
});
