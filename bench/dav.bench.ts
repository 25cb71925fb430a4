/**
 * CardDAV/CalDAV benchmark (`npm run bench:dav`; not a test): Syncpoint, Cyrus IMAP 3.6 and Radicale
 * side by side, on the same data, driven by the same client code over HTTP/1.1, each started here on
 * loopback with its own configuration and data in a temporary folder:
 *   - PUT of 10,000 contacts (8 at a time);
 *   - addressbook-multiget of 1,000 contacts;
 *   - sync-collection after 100 changes, and with no changes;
 *   - PROPFIND Depth:1 getetag over the contacts (what Evolution and vdirsyncer poll);
 *   - a complete initial sync-collection (following 507 pages to the end where a server pages);
 *   - calendar-query with a one-month time-range over 5,000 events, one in ten weekly-recurring.
 * The servers take turns phase by phase and sample by sample, so a load on the shared machine hits
 * them alike. Every timed phase runs on fresh connections (one per request: Cyrus leaves Nagle's
 * algorithm on, so on a kept-alive connection a multistatus written in several pieces waits about
 * 40 ms for the client's delayed ACK) and on kept-alive connections; the table prints both, the
 * ratios Syncpoint ÷ Cyrus and Syncpoint ÷ Radicale (below 1: Syncpoint is faster), and each
 * server's peak RSS (Cyrus: the sum over its httpd processes). Medians of 3 samples; PUTs once. Each
 * read phase runs 5 times untimed on every server first: Node compiles hot code as it runs, and a
 * server is measured as it runs in use, warm.
 *
 * `--rss N` instead measures what one PROPFIND Depth:1 getetag and one complete sync-collection of N
 * contacts add to each server's peak RSS (docs/operations.md, "DAV benchmark"). Other flags: --contacts N, --events N,
 * --servers syncpoint,cyrus,radicale, and --phases calendar-query,PROPFIND (only the phases whose name
 * holds one of these words, and the PUT of the contacts when one of them reads contacts).
 *
 * Needs, besides a build: Debian's `radicale`, and for Cyrus `cyrus-imapd`, `cyrus-caldav` and
 * `sasl2-bin`, and root (Cyrus's master switches to the `cyrus` user). A server whose package is
 * missing is left out, with a note.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { seededRandom } from '../sim/random.js';
import { createAccount, freePort, median, rssKiB, startRadicale as startRadicaleProcess, startServer, stopServer, waitForHttp, writeResults } from './server-process.js';

const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const serverNames = (process.argv.includes('--servers') ? (process.argv[process.argv.indexOf('--servers') + 1] ?? '') : 'syncpoint,cyrus,radicale').split(',');
const rssContacts = flag('rss', 0);
const contactsTotal = rssContacts > 0 ? rssContacts : flag('contacts', 10_000);
const eventsTotal = flag('events', 5_000);
const runs = 3;
const phaseWords = process.argv.includes('--phases') ? (process.argv[process.argv.indexOf('--phases') + 1] ?? '').split(',') : undefined;
/** Node's compiler needs a few runs of a code path before it is fast (measured: 400, 180, 150, 90, 55 ms for one 10,000-member sync). */
const warmUpRuns = 5;
const account = { user: 'bench', password: 'bench-password-0123' };
const authorization = `Basic ${Buffer.from(`${account.user}:${account.password}`).toString('base64')}`;

type Mode = 'fresh' | 'kept-alive';
const modes: Mode[] = ['fresh', 'kept-alive'];

interface Server {
  name: string;
  child: ChildProcess;
  /** Collection URLs, with the trailing slash. */
  contacts: string;
  events: string;
  /** Peak RSS in KiB, over the processes that serve DAV. */
  peakKiB(): number;
  stop(): Promise<void>;
  /** Per-server state between phases: the sync token of the last complete sync. */
  token: string;
}

const keptAlive = new Agent({ keepAlive: true, maxSockets: 8 });

/**
 * One request; `fresh` opens a connection for it alone and closes it after. A kept-alive connection the
 * server closed while idle (Node closes them after 5 s) can fail as it is reused: that request is sent
 * again once, on a new connection.
 */
async function dav(mode: Mode, method: string, url: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  try {
    return await send(mode, method, url, body, headers);
  } catch (err) {
    if (mode === 'fresh' || (err as NodeJS.ErrnoException).code !== 'ECONNRESET') throw err;
    return send(mode, method, url, body, headers);
  }
}

function send(mode: Mode, method: string, url: string, body: string | undefined, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  const all: Record<string, string | number> = { authorization, 'content-type': 'application/xml; charset=utf-8', ...headers };
  if (mode === 'fresh') all.connection = 'close';
  if (body !== undefined) all['content-length'] = Buffer.byteLength(body);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method, headers: all, agent: mode === 'fresh' ? false : keptAlive }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function expect(ok: boolean, what: string): void {
  if (!ok) throw new Error(`benchmark check failed: ${what}`);
}

const card = (i: number, rand: () => number, note = '') =>
  `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bench-${i}\r\nFN:Person ${i}\r\nN:${i};Person;;;\r\nEMAIL;TYPE=work:person${i}@example.org\r\nTEL;TYPE=cell:+44 20 7946 ${String(Math.floor(rand() * 10000)).padStart(4, '0')}\r\nORG:Company ${i % 97}\r\n${note}END:VCARD\r\n`;

function event(i: number): string {
  // Spread over 2026; every tenth recurs weekly for a year.
  const day = new Date(Date.UTC(2026, 0, 1) + (i % 365) * 86_400_000);
  const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const start = new Date(day.getTime() + 9 * 3_600_000);
  const end = new Date(start.getTime() + 3_600_000);
  const rrule = i % 10 === 0 ? 'RRULE:FREQ=WEEKLY;COUNT=52\r\n' : '';
  return `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\nUID:ev-${i}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:${stamp(start)}\r\nDTEND:${stamp(end)}\r\n${rrule}SUMMARY:Event ${i}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;
}

/** Runs `task` over `items`, `width` at a time. */
async function pool<T>(items: T[], width: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await task(items[next++] as T);
    }),
  );
}

const syncBody = (token: string, prop = '<d:getetag/>') =>
  `<?xml version="1.0" encoding="utf-8"?><d:sync-collection xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:sync-token>${token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop>${prop}</d:prop></d:sync-collection>`;

const responsesIn = (text: string) => text.match(/<(?:\w+:)?response[ >]/g)?.length ?? 0;

/** A whole sync-collection from `token`, following 507 pages; returns the members seen, the requests made and the final token. */
async function syncAll(mode: Mode, url: string, token: string, prop?: string): Promise<{ members: number; requests: number; token: string }> {
  let members = 0;
  for (let page = 1; page <= 10_000; page++) {
    const res = await dav(mode, 'REPORT', url, syncBody(token, prop), { depth: '1' });
    expect(res.status === 207, `sync-collection answered ${res.status}: ${res.text.slice(0, 200)}`);
    const next = /<(?:\w+:)?sync-token>([^<]*)</.exec(res.text)?.[1] ?? '';
    const truncated = /507 Insufficient Storage/.test(res.text);
    members += responsesIn(res.text) - (truncated ? 1 : 0);
    token = next;
    if (!truncated) return { members, requests: page, token };
  }
  throw new Error('sync-collection never finished');
}

async function startSyncpoint(dir: string): Promise<Server> {
  createAccount(dir, account);
  const port = await freePort();
  const args = ['serve', '--data', dir, '--port', String(port), '--host', '127.0.0.1'];
  const base = `http://127.0.0.1:${port}`;
  const server: Server = {
    name: 'Syncpoint',
    child: await startServer(args),
    contacts: `${base}/dav/users/${account.user}/bench-contacts/`,
    events: `${base}/dav/users/${account.user}/bench-events/`,
    peakKiB: () => rssKiB(server.child.pid as number),
    stop: () => stopServer(server.child),
    token: '',
  };
  return server;
}

async function startRadicale(dir: string): Promise<Server> {
  const { base, child } = await startRadicaleProcess(dir);
  return {
    name: 'Radicale',
    child,
    contacts: `${base}/${account.user}/contacts/`,
    events: `${base}/${account.user}/events/`,
    peakKiB: () => rssKiB(child.pid as number),
    stop: async () => void child.kill(),
    token: '',
  };
}

/**
 * Cyrus IMAP with only its HTTP (CalDAV, CardDAV) and a UNIX-socket IMAP service, Basic auth against a
 * private sasldb. Pitfalls: its folder must be reachable by the `cyrus` user (so not inside another
 * temporary folder of root's); a user's DAV home exists only once its INBOX does, which the first IMAP
 * login creates; `httpkeepalive: 0` stops "102 Processing" interim answers on slow requests.
 */
async function startCyrus(): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'syncpoint-dav-bench-cyrus-'));
  const port = await freePort();
  const imapSocket = join(dir, 'conf/socket/imap');
  for (const sub of ['etc', 'spool', 'sieve', 'conf/db', 'conf/lock', 'conf/log', 'conf/msg', 'conf/proc', 'conf/quota', 'conf/socket', 'conf/user']) mkdirSync(join(dir, sub), { recursive: true });
  const imapdConf = join(dir, 'etc/imapd.conf');
  writeFileSync(
    imapdConf,
    [
      `configdirectory: ${dir}/conf`,
      'defaultpartition: default',
      `partition-default: ${dir}/spool`,
      `sievedir: ${dir}/sieve`,
      'servername: localhost',
      'syslog_prefix: cyrus-bench',
      'hashimapspool: true',
      'httpmodules: caldav carddav',
      'allowplaintext: yes',
      'sasl_pwcheck_method: auxprop',
      'sasl_auxprop_plugin: sasldb',
      `sasl_sasldb_path: ${dir}/sasldb2`,
      'sasl_mech_list: PLAIN LOGIN',
      'autocreate_quota: 0',
      'httpkeepalive: 0',
      '',
    ].join('\n'),
  );
  const cyrusConf = join(dir, 'etc/cyrus.conf');
  writeFileSync(
    cyrusConf,
    `START {\n  recover cmd="ctl_cyrusdb -C ${imapdConf} -r"\n}\nSERVICES {\n  http cmd="httpd -C ${imapdConf}" listen="127.0.0.1:${port}" prefork=1 maxchild=50\n  imapunix cmd="imapd -C ${imapdConf}" listen="${imapSocket}" prefork=0 maxchild=5\n}\nEVENTS {\n  checkpoint cmd="ctl_cyrusdb -C ${imapdConf} -c" period=30\n}\n`,
  );
  const sasl = spawnSync('saslpasswd2', ['-p', '-c', '-f', join(dir, 'sasldb2'), '-u', 'localhost', account.user], { input: account.password });
  expect(sasl.status === 0, `saslpasswd2: ${sasl.stderr}`);
  expect(spawnSync('chown', ['-R', 'cyrus:', dir]).status === 0, 'chown to the cyrus user');
  const child = spawn('/usr/sbin/cyrmaster', ['-C', imapdConf, '-M', cyrusConf, '-p', join(dir, 'master.pid')], { stdio: ['ignore', 'inherit', 'inherit'] });
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(base);
  for (let i = 0; i < 100 && !existsSync(imapSocket); i++) await new Promise((r) => setTimeout(r, 100));
  await imapLogin(imapSocket);
  /** httpd processes are children of the master; the peak is summed over those alive now. */
  const httpdPids = () =>
    readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
          return stat.includes('(httpd)') && Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === child.pid;
        } catch {
          return false;
        }
      })
      .map(Number);
  return {
    name: 'Cyrus',
    child,
    contacts: `${base}/dav/addressbooks/user/${account.user}/bench-contacts/`,
    events: `${base}/dav/calendars/user/${account.user}/bench-events/`,
    peakKiB: () => httpdPids().reduce((sum, pid) => sum + rssKiB(pid), 0),
    stop: async () => {
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
    token: '',
  };
}

/** One IMAP LOGIN over the UNIX socket: it creates the user's INBOX, without which Cyrus serves no DAV home. */
function imapLogin(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let seen = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      seen += chunk;
      if (seen.startsWith('* OK') && !seen.includes('a1 ')) socket.write(`a1 LOGIN ${account.user} "${account.password}"\r\n`);
      if (/a1 OK/.test(seen) && !seen.includes('a2 ')) socket.write('a2 LOGOUT\r\n');
      if (/a1 NO|a1 BAD/.test(seen)) reject(new Error(`Cyrus IMAP login failed: ${seen}`));
    });
    socket.on('end', resolve);
    socket.on('error', reject);
  });
}

/** The same extended MKCOL for every server. */
async function makeCollections(s: Server): Promise<void> {
  const addressbook = `<?xml version="1.0"?><d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/><c:addressbook/></d:resourcetype></d:prop></d:set></d:mkcol>`;
  const calendar = `<?xml version="1.0"?><d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:resourcetype><d:collection/><c:calendar/></d:resourcetype><c:supported-calendar-component-set><c:comp name="VEVENT"/></c:supported-calendar-component-set></d:prop></d:set></d:mkcol>`;
  const a = await dav('kept-alive', 'MKCOL', s.contacts, addressbook);
  expect(a.status === 201, `${s.name} MKCOL addressbook: ${a.status} ${a.text.slice(0, 200)}`);
  const c = await dav('kept-alive', 'MKCOL', s.events, calendar);
  expect(c.status === 201, `${s.name} MKCOL calendar: ${c.status} ${c.text.slice(0, 200)}`);
}

async function putContacts(s: Server, mode: Mode): Promise<void> {
  const rand = seededRandom(7);
  const cards = Array.from({ length: contactsTotal }, (_, i) => card(i, rand));
  await pool(
    cards.map((_, i) => i),
    8,
    async (i) => {
      const res = await dav(mode, 'PUT', `${s.contacts}c${i}.vcf`, cards[i], { 'content-type': 'text/vcard; charset=utf-8', 'if-none-match': '*' });
      expect(res.status === 201, `${s.name} PUT c${i}: ${res.status}`);
    },
  );
}

const propfindBody = `<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>`;

async function propfind(s: Server, mode: Mode): Promise<void> {
  const res = await dav(mode, 'PROPFIND', s.contacts, propfindBody, { depth: '1' });
  expect(res.status === 207 && !/507 Insufficient Storage/.test(res.text) && responsesIn(res.text) === contactsTotal + 1, `${s.name} PROPFIND lists every contact (${responsesIn(res.text)} responses)`);
}

interface Phase {
  name: string;
  /** Untimed work before each sample (the 100 changes before an incremental sync). */
  prepare?: (s: Server, mode: Mode, sample: number) => Promise<void>;
  run: (s: Server, mode: Mode) => Promise<void>;
  /** Samples; the PUTs run once. */
  samples: number;
  modes: Mode[];
  /** Runs untimed on each server first (warmUpRuns times), so a server that compiles its code as it runs (Node) is timed warm, as it runs in use. */
  warmUp?: boolean;
  /** Reads the contacts the first phase PUTs (so --phases keeps that PUT). */
  readsContacts?: boolean;
}

const multigetBody = (s: Server) =>
  `<?xml version="1.0"?><c:addressbook-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><c:address-data/></d:prop>${Array.from({ length: 1000 }, (_, k) => `<d:href>${new URL(`${s.contacts}c${k * Math.floor(contactsTotal / 1000)}.vcf`).pathname}</d:href>`).join('')}</c:addressbook-multiget>`;

const queryBody = `<?xml version="1.0"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="20260601T000000Z" end="20260701T000000Z"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>`;
const queryMatches = new Map<string, number>();
let changeRound = 0;

const allPhases: Phase[] = [
  { name: `PUT ${contactsTotal} contacts (8 at a time)`, run: putContacts, samples: 1, modes: ['fresh'] },
  {
    name: 'addressbook-multiget of 1,000',
    readsContacts: true,
    run: async (s, mode) => {
      const res = await dav(mode, 'REPORT', s.contacts, multigetBody(s), { depth: '1' });
      expect(res.status === 207 && (res.text.match(/BEGIN:VCARD/g)?.length ?? 0) === 1000, `${s.name} multiget returns 1000 cards`);
    },
    samples: runs,
    modes,
    warmUp: true,
  },
  {
    name: 'sync-collection after 100 changes',
    readsContacts: true,
    prepare: async (s, mode, sample) => {
      if (s.token === '') s.token = (await syncAll(mode, s.contacts, '')).token;
      const round = ++changeRound * 10 + sample;
      const rand = seededRandom(round);
      await pool(
        Array.from({ length: 100 }, (_, k) => (k * 97 + round) % contactsTotal),
        8,
        async (i) => {
          const res = await dav(mode, 'PUT', `${s.contacts}c${i}.vcf`, card(i, rand, `NOTE:round ${round}\r\n`), { 'content-type': 'text/vcard; charset=utf-8' });
          expect(res.status === 204 || res.status === 201, `${s.name} PUT change: ${res.status}`);
        },
      );
    },
    run: async (s, mode) => {
      const delta = await syncAll(mode, s.contacts, s.token);
      expect(delta.members === 100, `${s.name} incremental sync saw ${delta.members} members`);
      s.token = delta.token;
    },
    samples: runs,
    modes,
  },
  {
    name: 'sync-collection, no changes',
    readsContacts: true,
    run: async (s, mode) => {
      const delta = await syncAll(mode, s.contacts, s.token);
      expect(delta.members === 0, `${s.name} no-change sync saw ${delta.members} members`);
    },
    samples: runs,
    modes,
    warmUp: true,
  },
  { name: 'PROPFIND Depth:1 getetag', run: propfind, samples: runs, modes, warmUp: true, readsContacts: true },
  {
    name: 'complete initial sync-collection',
    readsContacts: true,
    run: async (s, mode) => {
      const all = await syncAll(mode, s.contacts, '');
      expect(all.members === contactsTotal, `${s.name} initial sync saw ${all.members} members`);
    },
    samples: runs,
    modes,
    warmUp: true,
  },
  {
    name: `calendar-query, 1 month of ${eventsTotal} events`,
    prepare: async (s, mode) => {
      if (queryMatches.has(s.name)) return;
      queryMatches.set(s.name, 0);
      await pool(
        Array.from({ length: eventsTotal }, (_, i) => i),
        8,
        async (i) => {
          const res = await dav(mode, 'PUT', `${s.events}e${i}.ics`, event(i), { 'content-type': 'text/calendar; charset=utf-8' });
          expect(res.status === 201, `${s.name} PUT event ${i}: ${res.status}`);
        },
      );
    },
    run: async (s, mode) => {
      const res = await dav(mode, 'REPORT', s.events, queryBody, { depth: '1' });
      expect(res.status === 207, `${s.name} calendar-query: ${res.status}`);
      queryMatches.set(s.name, responsesIn(res.text));
    },
    samples: runs,
    modes,
    warmUp: true,
  },
];

const chosen = (p: Phase) => phaseWords === undefined || phaseWords.some((w) => p.name.includes(w));
const phases = allPhases.filter((p, i) => chosen(p) || (i === 0 && allPhases.some((q) => q.readsContacts && chosen(q))));

async function startAll(work: string): Promise<Server[]> {
  const servers: Server[] = [];
  const missing = (what: string, why: string) => console.log(`(${what} left out: ${why})`);
  if (serverNames.includes('syncpoint')) {
    mkdirSync(join(work, 'syncpoint'));
    servers.push(await startSyncpoint(join(work, 'syncpoint')));
  }
  if (serverNames.includes('cyrus')) {
    if (!existsSync('/usr/lib/cyrus/bin/httpd') || !existsSync('/usr/sbin/saslpasswd2')) missing('Cyrus', 'install cyrus-imapd, cyrus-caldav and sasl2-bin');
    else if (process.getuid?.() !== 0) missing('Cyrus', 'its master must start as root');
    else servers.push(await startCyrus());
  }
  if (serverNames.includes('radicale')) {
    if (!existsSync('/usr/bin/radicale')) missing('Radicale', 'install radicale');
    else {
      mkdirSync(join(work, 'radicale'));
      servers.push(await startRadicale(join(work, 'radicale')));
    }
  }
  return servers;
}

const mib = (kib: number) => (kib / 1024).toFixed(1);
const command = `npm run bench:dav${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;

async function compare(servers: Server[]): Promise<void> {
  for (const s of servers) await makeCollections(s);
  const times = new Map<string, number[]>();
  for (const phase of phases) {
    for (let k = 0; phase.warmUp && k < warmUpRuns; k++) {
      for (const s of servers) {
        await phase.prepare?.(s, 'kept-alive', 0);
        await phase.run(s, 'kept-alive');
      }
    }
    // Samples alternate between the servers and the kinds of connection, so load on the machine falls on all alike.
    for (let sample = 0; sample < phase.samples; sample++) {
      for (const mode of phase.modes) {
        for (const s of servers) {
          await phase.prepare?.(s, mode, sample);
          const t = performance.now();
          await phase.run(s, mode);
          const k = `${phase.name}|${mode}|${s.name}`;
          times.set(k, [...(times.get(k) ?? []), performance.now() - t]);
        }
      }
    }
  }
  const names = servers.map((s) => s.name);
  const others = names.filter((n) => n !== 'Syncpoint');
  console.log(`\nDAV benchmark: ${contactsTotal} contacts, ${eventsTotal} events; node ${process.version}, ${cpus().length} cores; medians of ${runs} samples (PUTs once), ms`);
  console.log(`ratio = Syncpoint ÷ the other server (below 1: Syncpoint is faster)\n`);
  const head = ['phase'.padEnd(40), 'connections'.padEnd(12), ...names.map((n) => n.padStart(10)), ...others.map((n) => `÷${n}`.padStart(11))].join('');
  console.log(head);
  const rows: { phase: string; connections: Mode; medianMs: Record<string, number>; ratio: Record<string, number> }[] = [];
  for (const phase of phases) {
    for (const mode of phase.modes) {
      const ms = names.map((n) => median(times.get(`${phase.name}|${mode}|${n}`) ?? [Number.NaN]));
      const ours = ms[0] as number;
      const ratios = ms.slice(1).map((m) => ours / m);
      console.log([phase.name.padEnd(40), mode.padEnd(12), ...ms.map((m) => m.toFixed(1).padStart(10)), ...ratios.map((r) => r.toFixed(2).padStart(11))].join(''));
      rows.push({
        phase: phase.name,
        connections: mode,
        medianMs: Object.fromEntries(names.map((n, i) => [n, Number((ms[i] as number).toFixed(1))])),
        ratio: Object.fromEntries(others.map((n, i) => [n, Number((ratios[i] as number).toFixed(2))])),
      });
    }
  }
  if (queryMatches.size > 0) console.log(`\ncalendar-query matches: ${names.map((n) => `${n} ${queryMatches.get(n)}`).join(', ')}`);
  console.log(`peak RSS: ${servers.map((s) => `${s.name} ${mib(s.peakKiB())} MiB`).join(', ')}${names.includes('Cyrus') ? ' (Cyrus: summed over its httpd processes)' : ''}`);
  const peakRssMiB = Object.fromEntries(servers.map((s) => [s.name, Number(mib(s.peakKiB()))]));
  console.log(`written to ${writeResults('dav', { command, contacts: contactsTotal, events: eventsTotal, samples: runs, rows, calendarQueryMatches: Object.fromEntries(queryMatches), peakRssMiB })}`);
}

/** What one PROPFIND and one complete sync of `contactsTotal` contacts add to each server's peak RSS. */
async function rssGrowth(servers: Server[], work: string): Promise<void> {
  for (const s of servers) await makeCollections(s);
  for (const s of servers) await putContacts(s, 'kept-alive');
  // Syncpoint starts again on the same data, so its peak measures the reads, not the PUTs.
  const ours = servers.find((s) => s.name === 'Syncpoint');
  if (ours) {
    await ours.stop();
    ours.child = await startServer(['serve', '--data', join(work, 'syncpoint'), '--port', new URL(ours.contacts).port, '--host', '127.0.0.1']);
  }
  console.log(`\nPeak RSS (MiB) around reads of ${contactsTotal} contacts${ours ? ' (Syncpoint restarted after the PUTs)' : ''}:`);
  console.log(['server'.padEnd(12), 'before'.padStart(10), 'PROPFIND'.padStart(10), 'sync'.padStart(10), 'sync+data'.padStart(10), 'growth'.padStart(10), 'requests'.padStart(10)].join(''));
  const rows: { server: string; beforeMiB: number; propfindMiB: number; syncMiB: number; syncWithDataMiB: number; growthMiB: number; syncRequests: number; syncWithDataRequests: number }[] = [];
  for (const s of servers) {
    await dav('kept-alive', 'PROPFIND', s.contacts, propfindBody, { depth: '0' });
    const before = s.peakKiB();
    await propfind(s, 'fresh');
    const afterPropfind = s.peakKiB();
    const sync = await syncAll('fresh', s.contacts, '');
    expect(sync.members === contactsTotal, `${s.name} sync saw ${sync.members}`);
    const afterSync = s.peakKiB();
    const full = await syncAll('fresh', s.contacts, '', '<d:getetag/><c:address-data/>');
    expect(full.members === contactsTotal, `${s.name} sync with data saw ${full.members}`);
    const afterData = s.peakKiB();
    console.log(
      [s.name.padEnd(12), mib(before).padStart(10), mib(afterPropfind).padStart(10), mib(afterSync).padStart(10), mib(afterData).padStart(10), `+${mib(afterData - before)}`.padStart(10), `${sync.requests}/${full.requests}`.padStart(10)].join(''),
    );
    const m = (kib: number) => Number(mib(kib));
    rows.push({ server: s.name, beforeMiB: m(before), propfindMiB: m(afterPropfind), syncMiB: m(afterSync), syncWithDataMiB: m(afterData), growthMiB: m(afterData - before), syncRequests: sync.requests, syncWithDataRequests: full.requests });
  }
  console.log('(requests: sync-collection requests for the whole sync, etags only / with address-data)');
  console.log(`written to ${writeResults('dav-rss', { command, contacts: contactsTotal, rows })}`);
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'syncpoint-dav-bench-'));
  let servers: Server[] = [];
  try {
    servers = await startAll(work);
    if (rssContacts > 0) await rssGrowth(servers, work);
    else await compare(servers);
  } finally {
    keptAlive.destroy();
    for (const s of servers) await s.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
