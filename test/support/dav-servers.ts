import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';

/**
 * Other CardDAV/CalDAV servers as real processes on loopback, for tests and benchmarks: Debian's Radicale
 * and Xandikos (.ci/setup installs both), each storing under a directory the caller gives and removes.
 */

export interface DavServerProcess {
  /** `http://127.0.0.1:PORT`, without a trailing slash. */
  base: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** A port nobody listens on right now (the OS picks it; the server binds it a moment later). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
  const { port } = probe.address() as AddressInfo;
  await new Promise((done) => probe.close(done));
  return port;
}

/** Resolves once something answers HTTP at `base` (any status); throws after 30 s. */
export async function waitForHttp(base: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      await fetch(base);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${base} never answered`);
}

/** SIGTERM, and resolves once the process is gone. */
function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    child.kill('SIGTERM');
    await exited;
  };
}

/**
 * Debian's Radicale on a free loopback port, storing under `dir`. Without `account` it takes any user and
 * password; with one, only that one (an htpasswd file of plain passwords: a test's throwaway secret).
 */
export async function startRadicale(dir: string, account?: { user: string; password: string }): Promise<DavServerProcess> {
  const port = await freePort();
  const config = join(dir, 'radicale.conf');
  let auth = 'type = none';
  if (account) {
    const users = join(dir, 'users');
    writeFileSync(users, `${account.user}:${account.password}\n`);
    auth = `type = htpasswd\nhtpasswd_filename = ${users}\nhtpasswd_encryption = plain\ndelay = 0`;
  }
  writeFileSync(config, `[server]\nhosts = 127.0.0.1:${port}\nmax_content_length = 100000000\n[auth]\n${auth}\n[storage]\nfilesystem_folder = ${join(dir, 'collections')}\n[logging]\nlevel = warning\n`);
  const child = spawn('/usr/bin/python3', ['-m', 'radicale', '--config', config], { stdio: ['ignore', 'inherit', 'inherit'] });
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(base);
  return { base, child, stop: stopper(child) };
}

/**
 * Debian's Xandikos on a free loopback port, storing under `dir`, with its default calendar and address
 * book for the principal `/user/`. Xandikos has no authentication of its own (it expects a proxy in
 * front): it takes any credentials, or none.
 */
export async function startXandikos(dir: string): Promise<DavServerProcess> {
  const port = await freePort();
  const child = spawn('/usr/bin/xandikos', ['--defaults', '-d', dir, '-l', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(base);
  return { base, child, stop: stopper(child) };
}

/**
 * Makes an address book or calendar at `url` as a client would (extended MKCOL, RFC 5689), with
 * `authorization` if the server wants one; fails unless it is made (201).
 */
export async function makeDavCollection(url: string, type: 'addressbook' | 'calendar', authorization?: string, displayName = 'Made by a test'): Promise<void> {
  const resourceType = type === 'addressbook' ? '<card:addressbook/>' : '<cal:calendar/>';
  const body = `<d:mkcol xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:cal="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:resourcetype><d:collection/>${resourceType}</d:resourcetype><d:displayname>${displayName}</d:displayname></d:prop></d:set></d:mkcol>`;
  const made = await fetch(url, { method: 'MKCOL', body, headers: { 'content-type': 'application/xml', ...(authorization ? { authorization } : {}) } });
  if (made.status !== 201) throw new Error(`MKCOL ${url}: ${made.status}`);
}
