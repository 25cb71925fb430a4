/**
 * Upstream benchmark (`npm run bench:upstream`; not a test): Syncpoint keeping an upstream CardDAV address
 * book of 10,000 contacts in sync (`syncpoint upstream sync`, docs/operations.md § Upstream servers), set
 * beside vdirsyncer (Debian's) syncing the same address book into a folder, both as the command a person
 * or a timer runs:
 *   - the first run, into an empty collection or folder: wall time, peak memory (the process's maximum
 *     resident set, from /usr/bin/time), its CPU time, and the CPU it made Radicale spend;
 *   - a run right after it with nothing changed: the same figures.
 * Each sample starts fresh: for Syncpoint a new SQLite data directory, an account and the upstream added
 * (`upstream add --collection contacts`: discovery, not timed); for vdirsyncer a new folder and status
 * directory and `vdirsyncer discover` (not timed). The two take turns, the first of each round alternating,
 * so a load on the shared machine falls on both; medians of `--rounds` samples and the ratios Syncpoint ÷
 * vdirsyncer (below 1: Syncpoint is faster or smaller) are printed and written to
 * bench/results/upstream-latest.json. Each sample checks its result: the collection holds every contact
 * once (by UID), the folder one file per contact, and the upstream is unchanged (its sync-token).
 *
 * The upstream is Debian's Radicale on loopback with a password. Its address book is made with MKCOL and
 * filled by writing the vCards straight into Radicale's filesystem storage (collection-root/USER/NAME/, one
 * file per item, as Radicale 3 keeps them): 10,000 PUTs through Radicale take minutes and would measure
 * Radicale, not the clients. Radicale then builds its caches (each item's etag, the sync-collection
 * history) on the first listing and the first sync-collection; both are run once untimed, so neither client
 * pays for them.
 *
 * Flags: --contacts N, --rounds N, --cpu-prof DIR (each Syncpoint first run writes a CPU profile to DIR;
 * read it with `node dist/bench/cpu-profile-summary.js DIR/*.cpuprofile`; the figures of such a run are
 * printed but not written, since profiling slows it). Needs, besides a build: Debian's `radicale`,
 * `vdirsyncer` and `time`.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { databaseFile } from '../src/server/open-store.js';
import { openDatabase } from '../src/sqlite/open.js';
import { makeDavCollection } from '../test/support/dav-servers.js';
import { vcard } from '../test/support/server.js';
import { cliPath, cpuSeconds, createAccount, machineBusySeconds, median, startRadicale, writeResults } from './server-process.js';

const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const contactsTotal = flag('contacts', 10_000);
const rounds = flag('rounds', 3);
const profileDir = process.argv.includes('--cpu-prof') ? (process.argv[process.argv.indexOf('--cpu-prof') + 1] as string) : undefined;
const upstreamAccount = { user: 'ann', password: 'upstream-password-0123' };
const local = { user: 'carol', password: 'carol-password-0123' };
const basic = `Basic ${Buffer.from(`${upstreamAccount.user}:${upstreamAccount.password}`).toString('base64')}`;

const contact = (i: number) =>
  vcard(`bench-${i}`, `Person ${i}`, `EMAIL;TYPE=work:person${i}@example.org\r\nTEL;TYPE=cell:+44 20 7946 ${String(i % 10_000).padStart(4, '0')}\r\nORG:Company ${i % 97}\r\nNOTE:Met at conference ${i % 13}\r\n`);

function expect(ok: boolean, what: string): void {
  if (!ok) throw new Error(`benchmark check failed: ${what}`);
}

/** One timed command: wall time, and from /usr/bin/time its CPU and its peak resident set. */
interface Run {
  ms: number;
  cpuMs: number;
  peakKiB: number;
  /** CPU the upstream (Radicale) spent meanwhile. */
  upstreamCpuMs: number;
  /** Cores busy on average meanwhile with work other than this command and Radicale (another helper's build, say). */
  otherCores: number;
  output: string;
}

interface Sample {
  first: Run;
  noChange: Run;
}

interface Tool {
  name: string;
  sample(dir: string): Sample;
}

function timed(radicalePid: number, command: string[], env: NodeJS.ProcessEnv = process.env): Run {
  const timeFile = join(tmpdir(), `syncpoint-upstream-bench-time-${process.pid}`);
  const upstreamBefore = cpuSeconds(radicalePid);
  const machineBefore = machineBusySeconds();
  const started = performance.now();
  const run = spawnSync('/usr/bin/time', ['-f', '%U %S %M', '-o', timeFile, ...command], { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const ms = performance.now() - started;
  const machine = machineBusySeconds() - machineBefore;
  const upstreamCpuMs = (cpuSeconds(radicalePid) - upstreamBefore) * 1000;
  const output = `${run.stdout}${run.stderr}`;
  if (run.status !== 0) throw new Error(`${command.join(' ')} exited with ${run.status}:\n${output.slice(-2000)}`);
  // /usr/bin/time writes "user system maxRSS-KiB" as its last line (a line before it if the command was signalled).
  const [user, system, peak] = (readFileSync(timeFile, 'utf8').trim().split('\n').at(-1) as string).split(' ').map(Number) as [number, number, number];
  rmSync(timeFile);
  const cpuMs = (user + system) * 1000;
  return { ms, cpuMs, peakKiB: peak, upstreamCpuMs, otherCores: Math.max(0, machine * 1000 - cpuMs - upstreamCpuMs) / ms, output };
}

/** A DAV request to Radicale as the upstream's owner. */
async function dav(method: string, url: string, body: string, depth: '0' | '1'): Promise<string> {
  const res = await fetch(url, { method, body, headers: { authorization: basic, depth, 'content-type': 'application/xml; charset=utf-8' } });
  expect(res.status === 207, `${method} ${url} answered ${res.status}`);
  return res.text();
}

const responsesIn = (text: string) => text.match(/<(?:\w+:)?response[ >]/g)?.length ?? 0;
const syncTokenOf = async (url: string) => /<(?:\w+:)?sync-token>([^<]*)</.exec(await dav('PROPFIND', url, '<d:propfind xmlns:d="DAV:"><d:prop><d:sync-token/></d:prop></d:propfind>', '0'))?.[1] ?? '';

/** Syncpoint: a fresh data directory, an account, the upstream mapped to its contacts collection; then `upstream sync` twice. */
function syncpoint(base: string, radicalePid: number): Tool {
  let profiled = 0;
  return {
    name: 'Syncpoint',
    sample(dir) {
      const data = join(dir, 'data');
      createAccount(data, local);
      // Radicale is on loopback, where an upstream may be only when allowed (docs/configuration.md, upstreamAddressesAllow).
      const env = { ...process.env, SYNCPOINT_LOG_LEVEL: 'warn', SYNCPOINT_UPSTREAM_ADDRESSES_ALLOW: '127.0.0.1' };
      const add = spawnSync(process.execPath, [cliPath, 'upstream', 'add', '--user', local.user, '--url', `${base}/`, '--username', upstreamAccount.user, '--password-stdin', '--collection', 'contacts', '--data', data], {
        env,
        input: `${upstreamAccount.password}\n`,
        encoding: 'utf8',
      });
      expect(add.status === 0 && /^added upstream \S+ with 1 mapped collections$/m.test(add.stdout), `upstream add: ${add.stdout}${add.stderr}`);
      const sync = (nodeArgs: string[]) => [process.execPath, ...nodeArgs, cliPath, 'upstream', 'sync', '--user', local.user, '--data', data];
      const profile = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `upstream-first-${++profiled}.cpuprofile`] : [];
      const first = timed(radicalePid, sync(profile), env);
      expect(/\tok$/m.test(first.output), `the first run did not run through: ${first.output}`);
      checkCollection(data);
      const noChange = timed(radicalePid, sync([]), env);
      expect(/\tok$/m.test(noChange.output), `the no-change run did not run through: ${noChange.output}`);
      checkCollection(data);
      return { first, noChange };
    },
  };
}

/** The account's contacts collection holds every upstream contact once, read straight from the SQLite file. */
function checkCollection(data: string): void {
  const file = openDatabase(databaseFile(data), { readonly: true });
  try {
    const row = file
      .prepare(
        "SELECT count(*) AS n, count(DISTINCT i.uid) AS uids FROM items i JOIN collections c ON c.id = i.collection_id JOIN accounts a ON a.id = c.account_id WHERE a.name = ? AND c.name = 'contacts' AND i.deleted_at IS NULL",
      )
      .get(local.user) as { n: number; uids: number };
    expect(row.n === contactsTotal && row.uids === contactsTotal, `Syncpoint's collection holds ${row.n} contacts (${row.uids} UIDs), not ${contactsTotal}`);
  } finally {
    file.db.close();
  }
}

/** vdirsyncer: a fresh folder and status directory, the address book as one pair (no collections), discovered; then `vdirsyncer sync` twice. */
function vdirsyncer(addressBook: string, radicalePid: number): Tool {
  return {
    name: 'vdirsyncer',
    sample(dir) {
      const folder = join(dir, 'contacts');
      mkdirSync(folder, { recursive: true });
      const config = join(dir, 'config');
      writeFileSync(
        config,
        `[general]\nstatus_path = "${dir}/status/"\n\n[pair contacts]\na = "contacts_local"\nb = "contacts_remote"\ncollections = null\n\n` +
          `[storage contacts_local]\ntype = "filesystem"\npath = "${folder}/"\nfileext = ".vcf"\n\n` +
          `[storage contacts_remote]\ntype = "carddav"\nurl = "${addressBook}"\nusername = "${upstreamAccount.user}"\npassword = "${upstreamAccount.password}"\n`,
      );
      const env = { ...process.env, VDIRSYNCER_CONFIG: config };
      const discover = spawnSync('vdirsyncer', ['discover'], { env, input: 'y\n'.repeat(4), encoding: 'utf8' });
      expect(discover.status === 0, `vdirsyncer discover: ${discover.stdout}${discover.stderr}`);
      const first = timed(radicalePid, ['vdirsyncer', 'sync'], env);
      checkFolder(folder);
      const noChange = timed(radicalePid, ['vdirsyncer', 'sync'], env);
      checkFolder(folder);
      return { first, noChange };
    },
  };
}

/** The folder holds one file per upstream contact, each with its UID. */
function checkFolder(folder: string): void {
  const uids = new Set(readdirSync(folder).map((name) => /^UID:(.*)\r?$/m.exec(readFileSync(join(folder, name), 'utf8'))?.[1]));
  uids.delete(undefined);
  expect(readdirSync(folder).length === contactsTotal && uids.size === contactsTotal, `vdirsyncer's folder holds ${readdirSync(folder).length} files (${uids.size} UIDs), not ${contactsTotal}`);
}

const r1 = (x: number) => Math.round(x * 10) / 10;
const r2 = (x: number) => Math.round(x * 100) / 100;

async function main(): Promise<void> {
  for (const [what, probe] of [
    ['vdirsyncer', ['vdirsyncer', '--version']],
    ['time', ['/usr/bin/time', '--version']],
  ] as const) {
    if (spawnSync(probe[0], probe.slice(1)).status !== 0) throw new Error(`Debian's ${what} is missing: apt-get install ${what}`);
  }
  const work = mkdtempSync(join(tmpdir(), 'syncpoint-upstream-bench-'));
  const radicaleDir = join(work, 'radicale');
  mkdirSync(radicaleDir);
  const radicale = await startRadicale(radicaleDir, upstreamAccount);
  try {
    const radicalePid = radicale.child.pid as number;
    const addressBook = `${radicale.base}/${upstreamAccount.user}/contacts/`;
    await makeDavCollection(addressBook, 'addressbook', basic, 'Contacts');
    const started = performance.now();
    const storage = join(radicaleDir, 'collections/collection-root', upstreamAccount.user, 'contacts');
    for (let i = 0; i < contactsTotal; i++) writeFileSync(join(storage, `bench-${i}.vcf`), contact(i));
    const listEtags = async () => responsesIn(await dav('PROPFIND', addressBook, '<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>', '1')) - 1;
    const listAll = async () => responsesIn(await dav('REPORT', addressBook, '<d:sync-collection xmlns:d="DAV:"><d:sync-token/><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>', '1'));
    // Radicale's caches: each item's etag (the first listing) and the sync-collection history (the first sync-collection).
    for (const [what, list] of [
      ['PROPFIND', listEtags],
      ['sync-collection', listAll],
    ] as const) {
      const n = await list();
      expect(n === contactsTotal, `Radicale's ${what} names ${n} contacts, not ${contactsTotal}`);
    }
    console.log(`Radicale holds ${contactsTotal} contacts (written and cached in ${r1((performance.now() - started) / 1000)} s)`);
    // What one listing of every member costs Radicale, cached: the clients' runs are read against it.
    const cpuOf = async (list: () => Promise<number>) => {
      const before = cpuSeconds(radicalePid);
      await list();
      return r1((cpuSeconds(radicalePid) - before) * 1000);
    };
    const listingCpuMs = { propfindDepth1: await cpuOf(listEtags), initialSyncCollection: await cpuOf(listAll) };
    console.log(`Radicale's CPU for one listing of every member: PROPFIND Depth 1 ${listingCpuMs.propfindDepth1} ms, initial sync-collection ${listingCpuMs.initialSyncCollection} ms`);
    const token = await syncTokenOf(addressBook);

    const tools = [syncpoint(radicale.base, radicalePid), vdirsyncer(addressBook, radicalePid)];
    const samples = new Map<string, Sample[]>(tools.map((t) => [t.name, []]));
    for (let round = 0; round < rounds; round++) {
      for (const tool of round % 2 === 0 ? tools : [...tools].reverse()) {
        const dir = mkdtempSync(join(work, `${tool.name}-`));
        const s = tool.sample(dir);
        rmSync(dir, { recursive: true, force: true });
        expect((await syncTokenOf(addressBook)) === token, `${tool.name} changed the upstream`);
        (samples.get(tool.name) as Sample[]).push(s);
        const line = (r: Run) => `${r1(r.ms / 1000)} s, ${r1(r.peakKiB / 1024)} MiB, CPU ${r1(r.cpuMs / 1000)} s, Radicale CPU ${r1(r.upstreamCpuMs / 1000)} s, other load ${r2(r.otherCores)} cores`;
        console.log(`round ${round + 1} ${tool.name.padEnd(10)} first: ${line(s.first)}\n${' '.repeat(19)}no change: ${line(s.noChange)}`);
      }
    }

    const figures = (name: string) => {
      const ss = samples.get(name) as Sample[];
      const of = (pick: (s: Sample) => number) => median(ss.map(pick));
      return {
        firstMs: r1(of((s) => s.first.ms)),
        firstPeakMiB: r1(of((s) => s.first.peakKiB) / 1024),
        firstCpuMs: r1(of((s) => s.first.cpuMs)),
        firstUpstreamCpuMs: r1(of((s) => s.first.upstreamCpuMs)),
        noChangeMs: r1(of((s) => s.noChange.ms)),
        noChangePeakMiB: r1(of((s) => s.noChange.peakKiB) / 1024),
        noChangeCpuMs: r1(of((s) => s.noChange.cpuMs)),
        noChangeUpstreamCpuMs: r1(of((s) => s.noChange.upstreamCpuMs)),
      };
    };
    const ours = figures('Syncpoint');
    const theirs = figures('vdirsyncer');
    const ratios = Object.fromEntries(Object.keys(ours).map((k) => [k, r2(ours[k as keyof typeof ours] / theirs[k as keyof typeof theirs])])) as Record<keyof typeof ours, number>;
    const labels: Record<keyof typeof ours, string> = {
      firstMs: 'first run, ms',
      firstPeakMiB: 'first run, peak RSS MiB',
      firstCpuMs: 'first run, CPU ms',
      firstUpstreamCpuMs: 'first run, Radicale CPU ms',
      noChangeMs: 'no-change run, ms',
      noChangePeakMiB: 'no-change run, peak RSS MiB',
      noChangeCpuMs: 'no-change run, CPU ms',
      noChangeUpstreamCpuMs: 'no-change run, Radicale CPU ms',
    };
    console.log(`\nUpstream benchmark: ${contactsTotal} contacts on Radicale; node ${process.version}, ${cpus().length} cores; medians of ${rounds} samples`);
    console.log(`${''.padEnd(32)}${'Syncpoint'.padStart(12)}${'vdirsyncer'.padStart(12)}${'ratio'.padStart(8)}`);
    for (const k of Object.keys(labels) as (keyof typeof ours)[]) console.log(`${labels[k].padEnd(32)}${String(ours[k]).padStart(12)}${String(theirs[k]).padStart(12)}${String(ratios[k]).padStart(8)}`);
    const otherCores = [...samples.values()].flat().flatMap((s) => [s.first.otherCores, s.noChange.otherCores]);
    console.log(`other load on the machine during the runs: ${r2(Math.min(...otherCores))}–${r2(Math.max(...otherCores))} cores`);
    if (profileDir) {
      console.log(`profiles in ${profileDir} (profiled runs are slower: nothing written)`);
      return;
    }
    const command = `npm run bench:upstream${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
    const strip = (s: Sample) => Object.fromEntries(Object.entries(s).map(([k, r]) => [k, { ms: r1(r.ms), cpuMs: r1(r.cpuMs), peakKiB: r.peakKiB, upstreamCpuMs: r1(r.upstreamCpuMs), otherCores: r2(r.otherCores) }]));
    const raw = Object.fromEntries([...samples].map(([name, ss]) => [name, ss.map(strip)]));
    console.log(`written to ${writeResults('upstream', { command, contacts: contactsTotal, rounds, radicaleListingCpuMs: listingCpuMs, medians: { Syncpoint: ours, vdirsyncer: theirs }, ratios, samples: raw })}`);
  } finally {
    await radicale.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
