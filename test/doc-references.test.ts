import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * Comments point into docs/, never to documents a reader of the repository cannot open (docs/design.md
 * holds the design in the repository's own words). This test reads every source and documentation file
 * under the folders below and fails on:
 *   - a citation of an outside design text: a zero-padded design seed number (a simulator seed is never
 *     zero-padded, so "sim seed 9212463" or "replay seed 42" pass), a path into a seeds/ folder, a figure
 *     or claim number, or a patent;
 *   - a reference `docs/X.md` to a file that does not exist, or `docs/X.md § Heading` / `docs/X.md §5.3`
 *     that names no heading of X (a heading's title, or its number for numbered ones; a reference may go
 *     on after the title, as in "§ Streaming)", and may wrap onto the next comment line).
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const scanned = ['src', 'sim', 'bench', 'web/src', 'test'];
const textFile = /\.(ts|tsx|js|mjs|cjs|css|html|md|py|sh)$/;
/** This file plants bad references on purpose. */
const self = 'test/doc-references.test.ts';

const outsideCitation = /\bseeds? 0\d\d\b|\bseeds?\/|\bfig(?:ure)?s?\.? ?\d|\bclaims? \d|\bpatent/i;

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'dist' ? [] : filesUnder(path);
    return textFile.test(e.name) ? [path] : [];
  });
}

/** Headings of a Markdown file outside code fences: each one's title, and its number if it has one. */
function headingsOf(markdown: string): { numbers: Set<string>; titles: string[] } {
  const numbers = new Set<string>();
  const titles: string[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.+?)\s*$/.exec(line);
    if (!heading) continue;
    const numbered = /^(\d+(?:\.\d+)*)\.?\s+(.*)$/.exec(heading[1] as string);
    if (numbered) numbers.add(numbered[1] as string);
    titles.push((numbered ? numbered[2] : heading[1]) as string);
  }
  return { numbers, titles };
}

/** Lines of a file with comment continuations joined, so a reference that wraps reads as one. */
function joined(text: string): { text: string; lineAt: (offset: number) => number } {
  const starts: number[] = [];
  let out = '';
  for (const line of text.split('\n')) {
    starts.push(out.length);
    out += line.replace(/^\s*(?:\/\/+|\/\*+|\*+(?!\/)|#+)?\s*/, '') + ' ';
  }
  return { text: out, lineAt: (offset) => starts.filter((s) => s <= offset).length };
}

interface Finding {
  line: number;
  problem: string;
}

/** What is wrong with one file's references. `docs`: file name -> its text, for every file in docs/. */
function findProblems(text: string, docs: ReadonlyMap<string, string>): Finding[] {
  const findings: Finding[] = [];
  text.split('\n').forEach((line, i) => {
    const m = outsideCitation.exec(line);
    if (m) findings.push({ line: i + 1, problem: `cites "${m[0]}", a document outside the repository: point into docs/ instead` });
  });
  const flat = joined(text);
  for (const m of flat.text.matchAll(/\bdocs\/([\w.-]+\.md)\b( ?§ ?)?/g)) {
    const [whole, file, section] = m as unknown as [string, string, string | undefined];
    const line = flat.lineAt(m.index ?? 0);
    const doc = docs.get(file);
    if (doc === undefined) {
      findings.push({ line, problem: `docs/${file} does not exist` });
      continue;
    }
    if (section === undefined) continue;
    const rest = flat.text.slice((m.index ?? 0) + whole.length, (m.index ?? 0) + whole.length + 200);
    const { numbers, titles } = headingsOf(doc);
    const number = /^\d+(?:\.\d+)*/.exec(rest);
    const named = number
      ? numbers.has(number[0])
      : titles.some((t) => rest.toLowerCase().startsWith(t.toLowerCase()) && !/^[\p{L}\p{N}]/u.test(rest.slice(t.length)));
    if (!named) findings.push({ line, problem: `docs/${file} has no heading "${number ? number[0] : rest.split(/[).;,:]/)[0]?.trim()}"` });
  }
  return findings;
}

function readDocs(): Map<string, string> {
  const docsDir = join(root, 'docs');
  return new Map(readdirSync(docsDir).filter((f) => f.endsWith('.md')).map((f) => [f, readFileSync(join(docsDir, f), 'utf8')]));
}

test('no source file cites a document outside the repository, and every docs/ reference names a file and a heading that exist', () => {
  const docs = readDocs();
  const files = scanned.flatMap((d) => filesUnder(join(root, d))).filter((f) => relative(root, f) !== self);
  assert.ok(files.length > 300, `found only ${files.length} files to check under ${scanned.join(', ')}`);
  const problems: string[] = [];
  let references = 0;
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    references += [...text.matchAll(/\bdocs\/[\w.-]+\.md/g)].length;
    for (const f of findProblems(text, docs)) problems.push(`${relative(root, file)}:${f.line}: ${f.problem}`);
  }
  assert.ok(references > 100, `found only ${references} docs/ references`);
  assert.deepEqual(problems, []);
});

test('the check catches outside citations and references to missing files or headings', () => {
  const docs = new Map([
    ['protocol.md', '# Title\n\n## 5. Sync keys\n\n### 5.3 Retries and replay\n\n```\n## 7. Not a heading\n```\n## Push\n'],
    ['dav.md', '# DAV\n\n### Calendars made without a component set\n'],
  ]);
  const problems = (text: string) => findProblems(text, docs).map((f) => `${f.line}: ${f.problem}`);
  // Good references, one wrapped over two comment lines, and simulator seeds.
  assert.deepEqual(problems('// docs/protocol.md §5.3; docs/protocol.md §5, docs/protocol.md § Push)\n'), []);
  assert.deepEqual(problems('/**\n * a calendar (docs/dav.md § Calendars made without a\n * component set). sim seed 9212463, replay seed 42\n */\n'), []);
  assert.deepEqual(problems('// see docs/protocol.md § Sync keys.\n'), []);
  // Outside citations.
  for (const bad of ['seed 004', 'seeds 000 and 001', 'Seed 002\'s echo', 'Fig. 8', 'figure 9', 'claim 12', 'the patent', '/work/shared/seeds/x.txt']) {
    assert.equal(problems(`// ${bad}\n`).length, 1, bad);
  }
  // Missing file, missing heading, a number no heading has, a heading inside a code fence, a prefix of a word.
  assert.deepEqual(problems('// docs/nowhere.md\n'), ['1: docs/nowhere.md does not exist']);
  assert.deepEqual(problems('x\n// docs/protocol.md § Retries\n'), ['2: docs/protocol.md has no heading "Retries"']);
  assert.deepEqual(problems('// docs/protocol.md §5.4\n'), ['1: docs/protocol.md has no heading "5.4"']);
  assert.deepEqual(problems('// docs/protocol.md §7\n'), ['1: docs/protocol.md has no heading "7"']);
  assert.deepEqual(problems('// docs/protocol.md § Pushes\n'), ['1: docs/protocol.md has no heading "Pushes"']);
  assert.deepEqual(problems('// docs/dav.md § Calendars\n'), ['1: docs/dav.md has no heading "Calendars"']);
});
