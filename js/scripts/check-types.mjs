#!/usr/bin/env node
// Checks the hand-written declarations (types/*.d.ts) against the sources (src/), so they
// cannot drift. `npm run check:types`; part of `npm run lint`. Exits 1 with a list of
// problems, 0 when the declarations match.
//
// 1. Compile: test/types/usage.ts (the public API used as the READMEs show it, including
//    lines that must NOT compile) is type-checked, strict, together with types/*.d.ts,
//    importing the package by its own name, so the `exports` map is checked too. Twice:
//    moduleResolution `nodenext` and `bundler`.
// 2. Surface: the TypeScript compiler API reads src/ (allowJs; no DOM needed, nothing is
//    run) and types/, and compares per entry point (index, react, ui):
//    - every named value export of the source is declared, and every declared value export
//      exists (type-only declarations — interfaces, type aliases — are not compared);
//    - each is the same kind (class, function, other value); functions, methods and
//      constructors take as many parameters as declared (the most over the overloads), and
//      a parameter the source lets callers leave out (default value, `@param [x]`) is
//      optional in the declaration too;
//    - for classes, the public members (methods, getters/setters, fields assigned with
//      `this.x =`, inherited from classes in src/; not #private, not `_underscored`):
//      every declared member exists at runtime, is a method when declared as one, and is
//      writable when declared writable; and, for the core (everything outside src/ui/),
//      every runtime member is declared.
//      The UI element classes (src/ui/) are checked in the first direction only: their
//      public helper methods (q, paint, run, …) are implementation details that come and
//      go, so only what the .d.ts promises must exist; the exports are checked both ways.
//    - the custom elements' tag names (`customElements.define('tag', Class)` or an object
//      literal `{ 'reverify-…': Class }` in src/ui/) match `HTMLElementTagNameMap` in
//      types/ui.d.ts, and the `reverify:*` event names the sources use match the declared
//      event map (`ReverifyUIEvents`).
// 3. Node: the entry points are also imported for real, and their export names and the
//    core classes' prototype members must agree with what the compiler API read, so a wrong
//    static reading cannot hide drift. (src/ui is imported too while it loads without a
//    DOM; if it ever needs one at import time this step notes it and skips it.)
//
// Steps 2 and 3 are shared with the server SDK's script (scripts/declared-surface.mjs).
import ts from 'typescript';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { declaredSurface, report } from './declared-surface.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The entry points: source, declarations, and whether its classes are checked both ways. */
const ENTRIES = [
  { name: '@reverify/browser', src: 'src/index.js', types: 'types/index.d.ts', strict: true },
  { name: '@reverify/browser/react', src: 'src/react.js', types: 'types/react.d.ts', strict: true },
  { name: '@reverify/browser/ui', src: 'src/ui/index.js', types: 'types/ui.d.ts', strict: false },
];
const USAGE = 'test/types/usage.ts';
const LIB = ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'];

/** Problems, by section; printed at the end. */
const problems = new Map();
const problem = (section, text) => problems.set(section, [...(problems.get(section) || []), text]);
const { at, rel, resolve, diagnostics, surface, crossCheck } = declaredSurface(ts, { root, problem, lib: LIB });

// ---- 1. compile the declarations with the usage file

function compile(moduleResolution) {
  const options = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    lib: LIB,
    types: [],
    skipLibCheck: false,
    ...(moduleResolution === 'bundler'
      ? { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler }
      : { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext }),
  };
  const program = ts.createProgram([at(USAGE), ...ENTRIES.map((e) => at(e.types))], options);
  const section = `tsc (strict, moduleResolution ${moduleResolution}): ${USAGE} with types/*.d.ts`;
  diagnostics(section, ts.getPreEmitDiagnostics(program));
}

// ---- 2. the UI's own checks: tag names and events

/** Tag name → class name, from `customElements.define('tag', C)` and `{ 'reverify-…': C }` in src/ui/. */
function runtimeTags(checker, files, exportNames) {
  const tags = new Map();
  const nameOf = (expr) => {
    if (!ts.isIdentifier(expr)) return undefined;
    const s = checker.getSymbolAtLocation(expr);
    const target = s && resolve(checker, s);
    return exportNames.get(target) ?? expr.text;
  };
  const events = new Set();
  for (const sf of files) {
    const visit = (n) => {
      if (
        ts.isCallExpression(n) &&
        ts.isPropertyAccessExpression(n.expression) &&
        n.expression.name.text === 'define' &&
        n.arguments.length >= 2 &&
        ts.isStringLiteralLike(n.arguments[0])
      )
        tags.set(n.arguments[0].text, nameOf(n.arguments[1]));
      if (
        ts.isPropertyAssignment(n) &&
        ts.isStringLiteralLike(n.name) &&
        /^[a-z][a-z0-9]*-[a-z0-9-]*$/.test(n.name.text)
      ) {
        const name = nameOf(n.initializer);
        if (name && [...exportNames.values()].includes(name)) tags.set(n.name.text, name);
      }
      if (ts.isStringLiteralLike(n) && /^reverify:[a-z-]+$/.test(n.text)) events.add(n.text);
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return { tags, events };
}

/** `HTMLElementTagNameMap` entries (tag → class name) and the event map's keys in a .d.ts. */
function declaredTags(sourceFile) {
  const tags = new Map();
  const events = new Set();
  const visit = (n) => {
    if (
      ts.isInterfaceDeclaration(n) &&
      (n.name.text === 'HTMLElementTagNameMap' || n.name.text === 'ReverifyUIEvents')
    ) {
      for (const m of n.members) {
        if (!m.name || !ts.isPropertySignature(m)) continue;
        const key = ts.isStringLiteralLike(m.name) || ts.isIdentifier(m.name) ? m.name.text : undefined;
        if (n.name.text === 'ReverifyUIEvents') events.add(key);
        else tags.set(key, m.type && ts.isTypeReferenceNode(m.type) ? m.type.typeName.getText(sourceFile) : '?');
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sourceFile);
  return { tags, events };
}

/** The custom elements' tags and the `reverify:*` events of src/ui/ against types/ui.d.ts. */
function uiChecks(entry, { section, runtime, src, dts, sc }) {
  if (!entry.src.startsWith('src/ui/')) return;
  const files = src.getSourceFiles().filter((f) => rel(f.fileName).startsWith('src/ui/'));
  const exportNames = new Map([...runtime].map(([name, r]) => [r.symbol, name]));
  const have = runtimeTags(sc, files, exportNames);
  const want = declaredTags(dts.getSourceFile(at(entry.types)));
  for (const [tag, cls] of have.tags)
    if (want.tags.get(tag) !== cls)
      problem(section, `<${tag}> is defined as ${cls}, HTMLElementTagNameMap says ${want.tags.get(tag) ?? 'nothing'}`);
  for (const [tag, cls] of want.tags)
    if (!have.tags.has(tag))
      problem(section, `<${tag}> (${cls}) is in HTMLElementTagNameMap but src/ui/ defines no such element`);
  for (const e of have.events)
    if (!want.events.has(e)) problem(section, `event ${e}: used in src/ui/ but not declared in ReverifyUIEvents`);
  for (const e of want.events)
    if (!have.events.has(e)) problem(section, `event ${e}: declared in ReverifyUIEvents but never used in src/ui/`);
}

// ---- run, report

compile('nodenext');
compile('bundler');
// The UI may need a DOM at import time; its exports were read statically.
await crossCheck(ENTRIES, surface(ENTRIES, uiChecks), (entry, e) =>
  console.warn(`check-types: note: ${entry.src} not imported in Node (${e}); its static reading stands`),
);
report(
  problems,
  'the declarations in types/ have drifted from src/',
  `${USAGE} compiles against types/*.d.ts; the declared exports and class members of ${ENTRIES.map((e) => e.types).join(', ')} match src/`,
);
