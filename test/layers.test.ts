import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, posix, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * The layers of docs/architecture.md § Layers, enforced over the TypeScript imports of src/ and of the
 * web app (web/src/). A layer is a folder of src/ (each face, and the SDK's Node entry, is its own);
 * every relative import, type-only ones included, must stay inside its layer or go to one the table
 * allows. A folder the table does not name fails too: a new layer has to be placed on purpose. A test
 * (`*.test.ts`) may also use the test harness in test/support/ (a throwaway PostgreSQL cluster, say).
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const faceMay = ['core', 'protocol', 'content', 'kinds', 'hub', 'http'];
const allowed: Record<string, readonly string[] | 'anything'> = {
  core: [],
  protocol: ['core'],
  content: ['core', 'protocol'],
  /** Kinds of item (docs/design.md § Kinds): their formats, indexes and merges, and the registry the hub and the faces reach them through. */
  kinds: ['core', 'protocol', 'content'],
  sqlite: [],
  store: ['core', 'protocol', 'sqlite'],
  hub: ['core', 'protocol', 'content', 'kinds', 'store'],
  http: ['core', 'protocol'],
  'faces/native': faceMay,
  'faces/dav': faceMay,
  'faces/eas': faceMay,
  push: ['core', 'protocol', 'content', 'hub', 'http'],
  /** Clients of other servers (docs/architecture.md § Connectors): what they speak, never the hub or the store. */
  connectors: ['core', 'protocol', 'content', 'kinds'],
  sdk: ['core', 'protocol'],
  'sdk/node': ['sdk', 'core', 'protocol', 'sqlite'],
  web: ['sdk', 'core', 'protocol', 'content'],
  server: 'anything',
  cli: 'anything',
};

/** Where a browser loads from: the SDK's public entry and the web app. What they reach must not need Node. */
const browserEntries = (files: readonly Source[]) => files.filter((f) => f.path === 'src/sdk/index.ts' || (layerOf(f.path) === 'web' && !isTest(f.path)));
/** Packages that only run in Node (besides Node's own modules). */
const nodeOnlyPackages = new Set(['ws', 'better-sqlite3', 'pino', 'commander']);

interface Source {
  /** Relative to the repository root, with forward slashes. */
  path: string;
  text: string;
}

interface Import {
  from: string;
  specifier: string;
  /** The file it names (relative to the root), for a relative import. */
  target?: string;
}

const isTest = (path: string) => /\.test\.tsx?$/.test(path);

function layerOf(path: string): string | undefined {
  if (path.startsWith('web/src/')) return 'web';
  const parts = path.split('/');
  if (parts[0] !== 'src' || parts.length < 3) return undefined;
  if (parts[1] === 'faces' || (parts[1] === 'sdk' && parts[2] === 'node' && parts.length > 3)) return `${parts[1]}/${parts[2]}`;
  return parts[1];
}

function importsOf(file: Source): Import[] {
  const info = ts.preProcessFile(file.text, true, true);
  return info.importedFiles.map(({ fileName: specifier }) => {
    if (!specifier.startsWith('.')) return { from: file.path, specifier };
    const target = posix.normalize(posix.join(posix.dirname(file.path), specifier)).replace(/\.js$/, '.ts');
    return { from: file.path, specifier, target };
  });
}

/** Every import that crosses into a layer its file's layer may not import, as "file imports specifier (why)". */
function layerViolations(files: readonly Source[]): string[] {
  const out: string[] = [];
  for (const file of files) {
    const from = layerOf(file.path);
    if (from === undefined || allowed[from] === undefined) {
      out.push(`${file.path} is in no layer of test/layers.test.ts; add its folder to the table and to docs/architecture.md`);
      continue;
    }
    const may = allowed[from];
    for (const { specifier, target } of importsOf(file)) {
      if (target === undefined || may === 'anything' || (isTest(file.path) && target.startsWith('test/support/'))) continue;
      const to = layerOf(target);
      if (to === from) continue;
      if (to === undefined || !may.includes(to)) {
        out.push(`${file.path} imports ${specifier} (${from} -> ${to ?? target}; ${from} may import ${may.length > 0 ? may.join(', ') : 'nothing outside itself'})`);
      }
    }
  }
  return out;
}

/** Node's modules and Node-only packages reachable from the browser entries, as "file imports specifier (reached from entry)". */
function browserViolations(files: readonly Source[]): string[] {
  const byPath = new Map(files.map((f) => [f.path, f]));
  const out: string[] = [];
  for (const entry of browserEntries(files)) {
    const seen = new Set<string>([entry.path]);
    const queue = [entry];
    for (let file = queue.shift(); file; file = queue.shift()) {
      for (const { specifier, target } of importsOf(file)) {
        if (target === undefined) {
          const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : (specifier.split('/')[0] as string);
          if (isBuiltin(specifier) || nodeOnlyPackages.has(name)) out.push(`${file.path} imports ${specifier} (reached from ${entry.path}, which runs in a browser)`);
          continue;
        }
        const next = byPath.get(target) ?? byPath.get(target.replace(/\.ts$/, '.tsx'));
        if (next && !seen.has(next.path)) {
          seen.add(next.path);
          queue.push(next);
        }
      }
    }
  }
  return [...new Set(out)];
}

function sources(dir: string): Source[] {
  const out: Source[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...sources(path));
    else if (/\.tsx?$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push({ path, text: readFileSync(join(root, path), 'utf8') });
  }
  return out;
}

const files = [...sources('src'), ...sources('web/src')];

test('every import of src/ and web/src/ stays within the layers of docs/architecture.md', (t) => {
  const edges = new Map<string, number>();
  for (const file of files) {
    for (const { target } of importsOf(file)) {
      const from = layerOf(file.path);
      const to = target && layerOf(target);
      if (from && to && from !== to) edges.set(`${from} -> ${to}`, (edges.get(`${from} -> ${to}`) ?? 0) + 1);
    }
  }
  t.diagnostic(`edges between layers (imports): ${[...edges].sort().map(([edge, n]) => `${edge} (${n})`).join(', ')}`);
  const violations = layerViolations(files);
  assert.ok(violations.length === 0, `imports that cross the layers:\n  ${violations.join('\n  ')}`);
});

test('the SDK entry and the web app reach no Node module', () => {
  assert.ok(browserEntries(files).length > 10, 'the browser entries were found');
  const violations = browserViolations(files);
  assert.ok(violations.length === 0, `Node-only imports reachable from a browser:\n  ${violations.join('\n  ')}`);
});

test('the checks are not blind: planted imports are caught and named', () => {
  const planted: Source[] = [
    { path: 'src/faces/dav/planted.ts', text: "import type { Principal } from '../../server/auth/authenticate.js';\nimport { x } from '../../http/body.js';" },
    { path: 'src/push/planted.ts', text: "export { y } from '../store/store.js';" },
    { path: 'src/faces/eas/planted.ts', text: "const z = await import('../dav/routes.js');" },
    { path: 'src/core/planted.ts', text: "import { limits } from './limits.js';\nimport type { Hub } from '../hub/hub.js';" },
    { path: 'src/newfolder/planted.ts', text: '' },
    { path: 'src/store/planted.test.ts', text: "import { cluster } from '../../test/support/postgres.js';" },
    { path: 'src/store/planted.ts', text: "import { cluster } from '../../test/support/postgres.js';" },
  ];
  assert.deepEqual(layerViolations(planted), [
    'src/faces/dav/planted.ts imports ../../server/auth/authenticate.js (faces/dav -> server; faces/dav may import core, protocol, content, kinds, hub, http)',
    'src/push/planted.ts imports ../store/store.js (push -> store; push may import core, protocol, content, hub, http)',
    'src/faces/eas/planted.ts imports ../dav/routes.js (faces/eas -> faces/dav; faces/eas may import core, protocol, content, kinds, hub, http)',
    'src/core/planted.ts imports ../hub/hub.js (core -> hub; core may import nothing outside itself)',
    'src/newfolder/planted.ts is in no layer of test/layers.test.ts; add its folder to the table and to docs/architecture.md',
    'src/store/planted.ts imports ../../test/support/postgres.js (store -> test/support/postgres.ts; store may import core, protocol, sqlite)',
  ]);
  const browser: Source[] = [
    { path: 'src/sdk/index.ts', text: "export * from './a.js';" },
    { path: 'src/sdk/a.ts', text: "import { openSqliteReplica } from './node/index.js';" },
    { path: 'src/sdk/node/index.ts', text: "import Database from 'better-sqlite3';\nimport { createHash } from 'node:crypto';" },
  ];
  assert.deepEqual(browserViolations(browser), [
    'src/sdk/node/index.ts imports better-sqlite3 (reached from src/sdk/index.ts, which runs in a browser)',
    'src/sdk/node/index.ts imports node:crypto (reached from src/sdk/index.ts, which runs in a browser)',
  ]);
});
