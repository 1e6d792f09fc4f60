#!/usr/bin/env node
// Checks the hand-written declarations (types/*.d.ts) against the sources (src/), so they
// cannot drift. `npm run check:types`. Exits 1 with a list of problems, 0 when they match.
// (The same approach as js/scripts/check-types.mjs for the browser SDK.)
//
// 0. The entry points are read from package.json's `exports` (each with `types` and
//    `default`, both existing files), so a new subpath is checked as soon as it is added.
// 1. Compile: types/test/usage.ts (the API used as node/README.md shows it, with the real
//    Express, Fastify and Hono types, including lines that must NOT compile) is
//    type-checked with types/test/tsconfig.json (strict), importing the package by its own
//    name so the `exports` map is used; twice: moduleResolution `nodenext` and `bundler`.
// 2. Surface, per entry point, with the TypeScript compiler API (src/ read with allowJs;
//    nothing is run): every named value export of the source is declared and every
//    declared value export exists (type-only declarations are not compared), of the same
//    kind (class, function, other value), functions taking as many parameters as declared
//    (a parameter with a default value must be optional in the declaration); for classes,
//    the public members both ways (methods, getters, fields assigned with `this.x =`), and
//    the constructor's parameters.
// 3. Node: each entry point is also imported for real; its export names and its classes'
//    prototype members must agree with what the compiler API read.
import ts from 'typescript';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { register } from 'node:module';

// `next/headers` exists only inside a Next app: the Next.js entry point is imported with
// the stand-in its unit tests use (test/nextjs/hook.mjs).
register('../test/nextjs/hook.mjs', import.meta.url);

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const at = (...p) => path.join(root, ...p);
const rel = (f) => path.relative(root, f).split(path.sep).join('/');

const problems = new Map();
const problem = (section, text) => problems.set(section, [...(problems.get(section) || []), text]);

// ---- 0. the entry points

const pkg = JSON.parse(readFileSync(at('package.json'), 'utf8'));
const ENTRIES = [];
for (const [subpath, target] of Object.entries(pkg.exports ?? {})) {
  const name = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`;
  const section = `package.json exports["${subpath}"]`;
  if (typeof target !== 'object' || !target.types || !target.default) {
    problem(section, 'must be { types, default }');
    continue;
  }
  if (Object.keys(target)[0] !== 'types') problem(section, '`types` must come first');
  const entry = { name, src: path.normalize(target.default), types: path.normalize(target.types) };
  for (const file of [entry.src, entry.types]) if (!existsSync(at(file))) problem(section, `${file} does not exist`);
  ENTRIES.push(entry);
}
if (pkg.types && path.normalize(pkg.types) !== ENTRIES.find((e) => e.name === pkg.name)?.types)
  problem('package.json', '`types` must be the "." entry\'s declarations');

// ---- 1. compile the declarations with the usage file

const TSCONFIG = 'types/test/tsconfig.json';

function compile(moduleResolution) {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    at(TSCONFIG),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
  );
  const section = `tsc (${TSCONFIG}, moduleResolution ${moduleResolution})`;
  if (!parsed) return problem(section, 'cannot read the tsconfig');
  const options = {
    ...parsed.options,
    ...(moduleResolution === 'bundler'
      ? { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler }
      : {}),
  };
  if (!options.strict) problem(section, 'the usage file must be checked with strict');
  // Every entry point's declarations are compiled, whatever the tsconfig lists.
  const files = new Set([...parsed.fileNames.map((f) => path.resolve(f)), ...ENTRIES.map((e) => at(e.types))]);
  const program = ts.createProgram([...files], options);
  for (const d of [...parsed.errors, ...ts.getPreEmitDiagnostics(program)]) {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n    ');
    if (d.file) {
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
      problem(section, `${rel(d.file.fileName)}:${line + 1}:${character + 1} TS${d.code}: ${text}`);
    } else problem(section, `TS${d.code}: ${text}`);
  }
}

// ---- 2. compare the declared surface with the sources

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
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
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
  return checker.getTypeOfSymbol(s).getCallSignatures().length ? 'function' : 'value';
}

/** The function-like nodes behind a symbol (overloads, `const f = () => …`). */
function functionNodes(decls) {
  const out = [];
  for (const d of decls || []) {
    if (ts.isFunctionLike(d)) out.push(d);
    else if ((ts.isVariableDeclaration(d) || ts.isPropertyDeclaration(d)) && d.initializer) {
      const init = ts.skipPartiallyEmittedExpressions(d.initializer);
      if (ts.isArrowFunction(init) || ts.isFunctionExpression(init)) out.push(init);
    }
  }
  return out;
}

const optional = (p) => !!(p.questionToken || p.initializer || p.dotDotDotToken);

/** `max`: the most parameters any overload takes; `min`: the fewest any requires; null without nodes. */
function arity(nodes) {
  if (!nodes.length) return null;
  let max = 0;
  let min = Infinity;
  for (const n of nodes) {
    const params = n.parameters.filter((p) => !(ts.isIdentifier(p.name) && p.name.text === 'this'));
    max = Math.max(max, params.some((p) => p.dotDotDotToken) ? Infinity : params.length);
    min = Math.min(min, params.findLastIndex((p) => !optional(p)) + 1);
  }
  return { max, min };
}

const isPublicName = (name) => !name.startsWith('#') && !name.startsWith('_') && name !== 'prototype';

/** The public members of a class declared in `dir`: name → { kind, writable, arity }. */
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
      out.set(prefix + p.name, { kind, writable, arity: arity(functionNodes(methods)) });
    }
  };
  add(checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(classSymbol)), '');
  add(checker.getPropertiesOfType(checker.getTypeOfSymbol(classSymbol)), 'static ');
  return out;
}

function constructorArity(checker, classSymbol, dir) {
  const sigs = checker.getSignaturesOfType(checker.getTypeOfSymbol(classSymbol), ts.SignatureKind.Construct);
  const nodes = sigs.map((s) => s.declaration).filter((d) => d && ts.isConstructorDeclaration(d) && inDir(dir)(d));
  return arity(nodes);
}

function exportsOf(checker, sourceFile) {
  const out = new Map();
  const mod = sourceFile && checker.getSymbolAtLocation(sourceFile);
  for (const e of mod ? checker.getExportsOfModule(mod) : []) {
    if (e.declarations?.some((d) => ts.isTypeOnlyImportOrExportDeclaration(d))) continue;
    const s = resolve(checker, e);
    const kind = kindOf(checker, s);
    if (kind) out.set(e.name, { kind, symbol: s });
  }
  return out;
}

const describe = (m) =>
  m.kind === 'accessor' ? (m.writable ? 'get/set accessor' : 'getter') : m.kind + (m.writable ? '' : ' (read-only)');
const params = (n) => (n === Infinity ? 'any number of parameters' : `${n} parameter${n === 1 ? '' : 's'}`);

function compareArity(section, what, runtime, declared) {
  if (runtime == null || declared == null) return;
  if (runtime.max !== declared.max)
    problem(section, `${what}: the source takes ${params(runtime.max)}, the declaration ${params(declared.max)}`);
  else if (declared.min > runtime.min)
    problem(section, `${what}: the declaration requires ${params(declared.min)}, the source only ${runtime.min}`);
}

function compareClass(section, name, src, dts) {
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
  for (const [m, r] of runtime)
    if (!declared.has(m)) problem(section, `${name}.${m}: in the source (${describe(r)}) but not declared`);
  compareArity(
    section,
    `new ${name}()`,
    constructorArity(src.checker, src.symbol, 'src'),
    constructorArity(dts.checker, dts.symbol, 'types'),
  );
  return runtime;
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
  }
  return read;
}

// ---- 3. the same surface seen by Node

/** Built-in prototypes (Object, Error, TypeError, …) end the walk. */
const builtIn = (p) => /\{\s*\[native code\]\s*\}$/.test(Function.prototype.toString.call(p.constructor));

function protoMembers(cls) {
  const names = new Set();
  for (let p = cls.prototype; p && !builtIn(p); p = Object.getPrototypeOf(p))
    for (const n of Object.getOwnPropertyNames(p)) if (n !== 'constructor' && isPublicName(n)) names.add(n);
  return names;
}

async function crossCheck(read) {
  const section = 'the compiler API reading vs the modules imported in Node';
  for (const entry of ENTRIES) {
    if (!read[entry.src]) continue;
    let mod;
    try {
      mod = await import(pathToFileURL(at(entry.src)).href);
    } catch (e) {
      problem(section, `${entry.src} cannot be imported in Node: ${e}`);
      continue;
    }
    const live = Object.keys(mod).sort().join(', ');
    const seen = [...read[entry.src].exports.keys()].sort().join(', ');
    if (live !== seen) problem(section, `${entry.src} exports [${live}] in Node, the compiler API read [${seen}]`);
    for (const [name, found] of Object.entries(read[entry.src].classes)) {
      const a = [...protoMembers(mod[name])].sort().join(', ');
      const b = [...found]
        .filter(([n, m]) => !n.startsWith('static ') && m.kind !== 'field')
        .map(([n]) => n)
        .sort()
        .join(', ');
      if (a !== b) problem(section, `${name}.prototype has [${a}] in Node, the compiler API read [${b}]`);
    }
  }
}

// ---- run, report

compile('nodenext');
compile('bundler');
await crossCheck(surface());

if (problems.size) {
  const count = [...problems.values()].reduce((n, l) => n + l.length, 0);
  console.error(
    `check-types: ${count} problem${count === 1 ? '' : 's'}: the declarations in types/ do not match src/\n`,
  );
  for (const [section, list] of problems) {
    console.error(`== ${section}`);
    for (const p of list) console.error(`  - ${p}`);
    console.error('');
  }
  process.exit(1);
}
console.log(
  `check-types: ok (${TSCONFIG} compiles twice; the declared exports and class members of ${ENTRIES.map((e) => e.types).join(', ')} match src/)`,
);
