// The comparison of hand-written declarations (types/*.d.ts) with JavaScript sources (src/)
// that both packages' `check:types` scripts run: js/scripts/check-types.mjs (the browser
// SDK) and node/scripts/check-types.mjs (the server SDK). Each script gives its entry
// points, its compile step and its extra checks; the rules live here once.
//
// `ts` is passed in (each package has its own TypeScript in its node_modules), as are the
// package's root folder and the `problem(section, text)` collector.
//
// - Exports, per entry point: every named value export of the source is declared and every
//   declared value export exists (type-only declarations are not compared), of the same
//   kind (class, function, other value), functions taking as many parameters as declared
//   (the most over the overloads), and a parameter the source lets callers leave out
//   (default value, `@param [x]`) is optional in the declaration too.
// - Classes: the public members (methods, getters/setters, fields assigned with
//   `this.x =`, inherited from classes in src/; not #private, not `_underscored`): every
//   declared member exists, is a method when declared as one, and is writable when declared
//   writable; with `strict`, every source member is declared. Constructors' parameters too.
// - Node: the entry points are imported for real, and their export names and classes'
//   prototype members must agree with what the compiler API read.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export function declaredSurface(ts, { root, problem, lib }) {
  const at = (...p) => path.join(root, ...p);
  const rel = (f) => path.relative(root, f).split(path.sep).join('/');

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
        lib,
        types: [],
      },
    );
  }

  /** Reports a program's diagnostics under `section`. */
  function diagnostics(section, list) {
    for (const d of list) {
      const text = ts.flattenDiagnosticMessageText(d.messageText, '\n    ');
      if (d.file) {
        const { line, character } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
        problem(section, `${rel(d.file.fileName)}:${line + 1}:${character + 1} TS${d.code}: ${text}`);
      } else problem(section, `TS${d.code}: ${text}`);
    }
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

  /** The function-like nodes behind a symbol (overloads, `const f = () => …`, `o.f = function`). */
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
      min = Math.min(min, params.findLastIndex((p) => !optional(p)) + 1);
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
    const mod = sourceFile && checker.getSymbolAtLocation(sourceFile);
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

  function compareClass(section, name, strict, src, dts) {
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
    if (strict)
      for (const [m, r] of runtime)
        if (!declared.has(m))
          problem(
            section,
            `${name}.${m}: in the source (${describe(r)}${r.owner && r.owner !== name ? ', from ' + r.owner : ''}) but not declared`,
          );
    compareArity(
      section,
      `new ${name}()`,
      constructorArity(src.checker, src.symbol, 'src'),
      constructorArity(dts.checker, dts.symbol, 'types'),
    );
    return runtime;
  }

  /**
   * Compares every entry point ({name, src, types, strict}); `each(entry, ctx)` adds a
   * package's own checks. Returns what was read, for `crossCheck`.
   */
  function surface(entries, each = () => {}) {
    const src = program(entries.map((e) => e.src));
    const dts = program(entries.map((e) => e.types));
    const sc = src.getTypeChecker();
    const dc = dts.getTypeChecker();
    const read = {};
    for (const entry of entries) {
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
            entry.strict,
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
      each(entry, { section, runtime, src, dts, sc, dc });
    }
    return read;
  }

  /** Public prototype members along the chain, up to a built-in one (Object, Error, HTMLElement, …). */
  function protoMembers(cls) {
    const names = new Set();
    for (let p = cls.prototype; p && !builtIn(p); p = Object.getPrototypeOf(p))
      for (const n of Object.getOwnPropertyNames(p)) if (n !== 'constructor' && isPublicName(n)) names.add(n);
    return names;
  }

  /**
   * Imports each entry point in Node and compares it with the compiler API's reading. An
   * entry that is not `strict` may fail to import (`onImportError` says what to do) and
   * its classes are not compared.
   */
  async function crossCheck(entries, read, onImportError) {
    const section = 'the compiler API reading vs the modules imported in Node';
    for (const entry of entries) {
      if (!read[entry.src]) continue;
      let mod;
      try {
        mod = await import(pathToFileURL(at(entry.src)).href);
      } catch (e) {
        if (entry.strict) problem(section, `${entry.src} cannot be imported in Node: ${e}`);
        else onImportError?.(entry, e);
        continue;
      }
      const live = Object.keys(mod).sort().join(', ');
      const seen = [...read[entry.src].exports.keys()].sort().join(', ');
      if (live !== seen) problem(section, `${entry.src} exports [${live}] in Node, the compiler API read [${seen}]`);
      if (!entry.strict) continue;
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

  return { at, rel, resolve, diagnostics, surface, crossCheck };
}

/** A prototype of the platform's: its constructor is native code. */
const builtIn = (p) => /\{\s*\[native code\]\s*\}$/.test(Function.prototype.toString.call(p.constructor));

/** Prints the problems and exits 1, or prints `ok` (a line of what was checked). */
export function report(problems, drift, ok) {
  if (problems.size) {
    const count = [...problems.values()].reduce((n, l) => n + l.length, 0);
    console.error(`check-types: ${count} problem${count === 1 ? '' : 's'}: ${drift}\n`);
    for (const [section, list] of problems) {
      console.error(`== ${section}`);
      for (const p of list) console.error(`  - ${p}`);
      console.error('');
    }
    process.exit(1);
  }
  console.log(`check-types: ok (${ok})`);
}
