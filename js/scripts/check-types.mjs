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
import ts from 'typescript';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const at = (...p) => path.join(root, ...p);
const rel = (f) => path.relative(root, f).split(path.sep).join('/');

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
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n    ');
    if (d.file) {
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
      problem(section, `${rel(d.file.fileName)}:${line + 1}:${character + 1} TS${d.code}: ${text}`);
    } else problem(section, `TS${d.code}: ${text}`);
  }
}

// ---- 2. compare the declared surface with the sources

/** A program over some entry files; only the surface is read, so type errors do not matter. */
function program(files) {
  return ts.createProgram(
    files.map((f) => at(f)),
    {
      allowJs: true,
      checkJs: false,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: LIB,
      types: [],
    },
  );
}

const resolve = (checker, s) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
const inDir = (dir) => (decl) => rel(decl.getSourceFile().fileName).startsWith(dir + '/');

/** 'class', 'function' or 'value', or null for a type-only export. */
function kindOf(checker, s) {
  if (s.flags & ts.SymbolFlags.Class) return 'class';
  if (!(s.flags & ts.SymbolFlags.Value)) return null;
  if (s.flags & ts.SymbolFlags.Function) return 'function';
  const type = checker.getTypeOfSymbol(s);
  return type.getCallSignatures().length ? 'function' : 'value';
}

/** The function-like nodes behind a symbol (overloads, `const f = () => …`). */
function functionNodes(decls) {
  const out = [];
  for (const d of decls || []) {
    if (ts.isFunctionLike(d)) out.push(d);
    else if ((ts.isVariableDeclaration(d) || ts.isPropertyDeclaration(d)) && d.initializer) {
      const init = ts.skipPartiallyEmittedExpressions(d.initializer);
      if (ts.isArrowFunction(init) || ts.isFunctionExpression(init)) out.push(init);
    } else if (ts.isBinaryExpression(d) && (ts.isArrowFunction(d.right) || ts.isFunctionExpression(d.right))) {
      out.push(d.right);
    }
  }
  return out;
}

/** Whether a parameter may be left out: `?`, a default value, `...rest`, or `@param [name]`. */
const optional = (p) =>
  !!(p.questionToken || p.initializer || p.dotDotDotToken) || ts.getJSDocParameterTags(p).some((t) => t.isBracketed);

/**
 * The parameters of the nodes (overloads): `max`, the most any takes (Infinity with a rest
 * parameter), and `min`, the fewest any requires; null without nodes.
 */
function arity(nodes) {
  if (!nodes.length) return null;
  let max = 0;
  let min = Infinity;
  for (const n of nodes) {
    const params = n.parameters.filter((p) => !(ts.isIdentifier(p.name) && p.name.text === 'this'));
    max = Math.max(max, params.some((p) => p.dotDotDotToken) ? Infinity : params.length);
    const required = params.findLastIndex((p) => !optional(p)) + 1;
    min = Math.min(min, required);
  }
  return { max, min };
}

const isPublicName = (name) => !name.startsWith('#') && !name.startsWith('_') && name !== 'prototype';

/**
 * The public members of a class, own and inherited from classes in `dir`: name → {kind:
 * 'method' | 'accessor' | 'field', writable, arity, owner}. Static members are `static name`.
 */
function members(checker, classSymbol, dir) {
  const out = new Map();
  const add = (props, prefix) => {
    for (const p of props) {
      const decls = (p.declarations || []).filter(inDir(dir));
      if (!decls.length || decls.some((d) => d.name && ts.isPrivateIdentifier(d.name)) || !isPublicName(p.name))
        continue;
      const methods = decls.filter((d) => ts.isMethodDeclaration(d) || ts.isMethodSignature(d));
      const getters = decls.filter(ts.isGetAccessorDeclaration);
      const setters = decls.filter(ts.isSetAccessorDeclaration);
      const readonly = decls.some((d) => ts.getCombinedModifierFlags(d) & ts.ModifierFlags.Readonly);
      const kind = methods.length ? 'method' : getters.length || setters.length ? 'accessor' : 'field';
      const writable = kind === 'accessor' ? setters.length > 0 : kind === 'field' ? !readonly : true;
      const owner = decls[0].parent && ts.isClassLike(decls[0].parent) ? decls[0].parent.name?.text : undefined;
      out.set(prefix + p.name, { kind, writable, arity: arity(functionNodes(methods)), owner });
    }
  };
  add(checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(classSymbol)), '');
  add(checker.getPropertiesOfType(checker.getTypeOfSymbol(classSymbol)), 'static ');
  return out;
}

/** The constructor's parameter count (the class's own or the nearest inherited one in `dir`). */
function constructorArity(checker, classSymbol, dir) {
  const sigs = checker.getSignaturesOfType(checker.getTypeOfSymbol(classSymbol), ts.SignatureKind.Construct);
  const nodes = sigs.map((s) => s.declaration).filter((d) => d && ts.isConstructorDeclaration(d) && inDir(dir)(d));
  return arity(nodes);
}

/** Named value exports of a module: name → {kind, symbol}. */
function exportsOf(checker, sourceFile) {
  const out = new Map();
  const mod = checker.getSymbolAtLocation(sourceFile);
  for (const e of mod ? checker.getExportsOfModule(mod) : []) {
    // `export type { X }`: a type even when X is a class.
    if (e.declarations?.some((d) => ts.isTypeOnlyImportOrExportDeclaration(d))) continue;
    const s = resolve(checker, e);
    const kind = kindOf(checker, s);
    if (kind) out.set(e.name, { kind, symbol: s });
  }
  return out;
}

const describe = (m) =>
  m.kind === 'accessor'
    ? m.writable
      ? 'get/set accessor'
      : 'getter (read-only)'
    : m.kind + (m.writable ? '' : ' (read-only)');
const params = (n) => (n === Infinity ? 'any number of parameters (rest)' : `${n} parameter${n === 1 ? '' : 's'}`);

/**
 * Parameter counts must match; and a parameter the source lets callers leave out (a default
 * value, `@param [name]`) must be optional in the declaration too. (The other way round is
 * not checked: untyped JS parameters carry no "required" marker.)
 */
function compareArity(section, what, runtime, declared) {
  if (runtime == null || declared == null) return;
  if (runtime.max !== declared.max)
    problem(section, `${what}: the source takes ${params(runtime.max)}, the declaration ${params(declared.max)}`);
  else if (declared.min > runtime.min)
    problem(
      section,
      `${what}: the declaration requires ${params(declared.min)}, the source only ${runtime.min} (the rest are optional there)`,
    );
}

function compareClass(section, name, entry, src, dts) {
  const runtime = members(src.checker, src.symbol, 'src');
  const declared = members(dts.checker, dts.symbol, 'types');
  for (const [m, d] of declared) {
    const r = runtime.get(m);
    if (!r) {
      problem(section, `${name}.${m}: declared (${describe(d)}) but not in the source`);
      continue;
    }
    if ((d.kind === 'method') !== (r.kind === 'method'))
      problem(section, `${name}.${m}: declared as a ${describe(d)}, the source has a ${describe(r)}`);
    else if (d.writable && !r.writable)
      problem(section, `${name}.${m}: declared writable, the source has a ${describe(r)}`);
    if (d.kind === 'method' && r.kind === 'method') compareArity(section, `${name}.${m}()`, r.arity, d.arity);
  }
  if (entry.strict) {
    for (const [m, r] of runtime)
      if (!declared.has(m))
        problem(
          section,
          `${name}.${m}: in the source (${describe(r)}${r.owner && r.owner !== name ? ', from ' + r.owner : ''}) but not declared`,
        );
  }
  compareArity(
    section,
    `new ${name}()`,
    constructorArity(src.checker, src.symbol, 'src'),
    constructorArity(dts.checker, dts.symbol, 'types'),
  );
  return runtime;
}

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

function surface() {
  const src = program(ENTRIES.map((e) => e.src));
  const dts = program(ENTRIES.map((e) => e.types));
  const sc = src.getTypeChecker();
  const dc = dts.getTypeChecker();
  const read = {};
  for (const entry of ENTRIES) {
    const section = `${entry.name}: ${entry.types} vs ${entry.src}`;
    const runtime = exportsOf(sc, src.getSourceFile(at(entry.src)));
    const declared = exportsOf(dc, dts.getSourceFile(at(entry.types)));
    read[entry.src] = { exports: runtime, classes: {} };
    for (const [name, r] of runtime)
      if (!declared.has(name)) problem(section, `export ${name} (${r.kind}): in the source but not declared`);
    for (const [name, d] of declared) {
      const r = runtime.get(name);
      if (!r) {
        problem(section, `export ${name} (${d.kind}): declared but not exported by the source`);
        continue;
      }
      if (r.kind !== d.kind) {
        problem(section, `export ${name}: declared as a ${d.kind}, the source exports a ${r.kind}`);
        continue;
      }
      if (r.kind === 'class')
        read[entry.src].classes[name] = compareClass(
          section,
          name,
          entry,
          { checker: sc, symbol: r.symbol },
          { checker: dc, symbol: d.symbol },
        );
      if (r.kind === 'function')
        compareArity(
          section,
          `${name}()`,
          arity(functionNodes(r.symbol.declarations)),
          arity(functionNodes(d.symbol.declarations)),
        );
    }
    if (entry.src.startsWith('src/ui/')) {
      const files = src.getSourceFiles().filter((f) => rel(f.fileName).startsWith('src/ui/'));
      const exportNames = new Map([...runtime].map(([name, r]) => [r.symbol, name]));
      const have = runtimeTags(sc, files, exportNames);
      const want = declaredTags(dts.getSourceFile(at(entry.types)));
      for (const [tag, cls] of have.tags)
        if (want.tags.get(tag) !== cls)
          problem(
            section,
            `<${tag}> is defined as ${cls}, HTMLElementTagNameMap says ${want.tags.get(tag) ?? 'nothing'}`,
          );
      for (const [tag, cls] of want.tags)
        if (!have.tags.has(tag))
          problem(section, `<${tag}> (${cls}) is in HTMLElementTagNameMap but src/ui/ defines no such element`);
      for (const e of have.events)
        if (!want.events.has(e)) problem(section, `event ${e}: used in src/ui/ but not declared in ReverifyUIEvents`);
      for (const e of want.events)
        if (!have.events.has(e)) problem(section, `event ${e}: declared in ReverifyUIEvents but never used in src/ui/`);
    }
  }
  return read;
}

// ---- 3. the same surface seen by Node

/** Public prototype members along the chain, up to (not including) built-in prototypes. */
function protoMembers(cls) {
  const names = new Set();
  for (let p = cls.prototype; p && p !== Object.prototype && p !== Error.prototype; p = Object.getPrototypeOf(p)) {
    if (globalThis.HTMLElement && p === globalThis.HTMLElement.prototype) break;
    for (const n of Object.getOwnPropertyNames(p)) if (n !== 'constructor' && isPublicName(n)) names.add(n);
  }
  return names;
}

async function crossCheck(read) {
  const section = 'the compiler API reading vs the modules imported in Node';
  for (const entry of ENTRIES) {
    let mod;
    try {
      mod = await import(pathToFileURL(at(entry.src)).href);
    } catch (e) {
      // The UI may need a DOM at import time; its exports were read statically above.
      if (entry.strict) problem(section, `${entry.src} cannot be imported in Node: ${e}`);
      else console.warn(`check-types: note: ${entry.src} not imported in Node (${e}); its static reading stands`);
      continue;
    }
    const live = Object.keys(mod).sort().join(', ');
    const seen = [...read[entry.src].exports.keys()].sort().join(', ');
    if (live !== seen) problem(section, `${entry.src} exports [${live}] in Node, the compiler API read [${seen}]`);
    if (!entry.strict) continue;
    for (const [name, members] of Object.entries(read[entry.src].classes)) {
      const seenMembers = [...members]
        .filter(([n, m]) => !n.startsWith('static ') && m.kind !== 'field')
        .map(([n]) => n);
      const a = [...protoMembers(mod[name])].sort().join(', ');
      const b = seenMembers.sort().join(', ');
      if (a !== b) problem(section, `${name}.prototype has [${a}] in Node, the compiler API read [${b}]`);
    }
  }
}

// ---- run, report

compile('nodenext');
compile('bundler');
const read = surface();
await crossCheck(read);

if (problems.size) {
  const count = [...problems.values()].reduce((n, l) => n + l.length, 0);
  console.error(
    `check-types: ${count} problem${count === 1 ? '' : 's'}: the declarations in types/ have drifted from src/\n`,
  );
  for (const [section, list] of problems) {
    console.error(`== ${section}`);
    for (const p of list) console.error(`  - ${p}`);
    console.error('');
  }
  process.exit(1);
}
console.log(
  `check-types: ok (${USAGE} compiles against types/*.d.ts; the declared exports and class members of ${ENTRIES.map((e) => e.types).join(', ')} match src/)`,
);
