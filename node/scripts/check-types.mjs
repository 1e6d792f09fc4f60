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
//
// Steps 2 and 3 are the browser SDK's (js/scripts/declared-surface.mjs), shared.
import ts from 'typescript';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'node:module';
import { declaredSurface, report } from '../../js/scripts/declared-surface.mjs';

// `next/headers` exists only inside a Next app: the Next.js entry point is imported with
// the stand-in its unit tests use (test/nextjs/hook.mjs).
register('../test/nextjs/hook.mjs', import.meta.url);

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const problems = new Map();
const problem = (section, text) => problems.set(section, [...(problems.get(section) || []), text]);
const { at, diagnostics, surface, crossCheck } = declaredSurface(ts, {
  root,
  problem,
  lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
});

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
  // Every class is checked both ways (`strict`).
  const entry = { name, src: path.normalize(target.default), types: path.normalize(target.types), strict: true };
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
  diagnostics(section, [...parsed.errors, ...ts.getPreEmitDiagnostics(program)]);
}

// ---- 2, 3, run, report

compile('nodenext');
compile('bundler');
await crossCheck(ENTRIES, surface(ENTRIES));
report(
  problems,
  'the declarations in types/ do not match src/',
  `${TSCONFIG} compiles twice; the declared exports and class members of ${ENTRIES.map((e) => e.types).join(', ')} match src/`,
);
