import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { freePort } from './dav-servers.js';

/**
 * Debian's Dovecot 2.3 (`dovecot-imapd`, `dovecot-lmtpd`; .ci/setup installs both) as a real IMAP server and
 * LMTP delivery agent for the mail tests and bench, started by the test itself on loopback: its own
 * configuration, users, Maildirs and log in a fresh temporary folder, free ports, no system service. It runs
 * as root (as the tests do in CI): Dovecot switches to the mail user below for mail files and to Debian's
 * `dovecot`/`dovenull` users for its own processes.
 */

/** The system user owning the Maildirs; made at first start if missing (Dovecot refuses root for mail). */
export const dovecotMailUser = 'syncpoint-mail';

export interface DovecotUser {
  password: string;
  /** `NAME@DOMAIN`: LMTP delivers to it (the domain is dropped to find the user). */
  address: string;
}

export interface DovecotOptions {
  /** Users to make at start, name → password; by default `alice` and `bob` with random passwords. */
  users?: Record<string, string>;
  /** The domain of the users' addresses; `example.test` by default. */
  domain?: string;
  /**
   * IMAP connections allowed per user and client address; by default Dovecot's own default, 10, which a
   * gateway must make do with (every test connects from 127.0.0.1, so a test's own clients count too).
   */
  maxUserIpConnections?: number;
}

export interface Dovecot {
  host: '127.0.0.1';
  imapPort: number;
  lmtpPort: number;
  /** The temporary folder holding configuration, mail (`mail/NAME/Maildir`) and the log (`dovecot.log`). */
  dir: string;
  domain: string;
  /** Every user, by login name; `addUser` adds to it. */
  users: Record<string, DovecotUser>;
  /**
   * A Dovecot master user: logging in as `NAME*MASTER` with the master's password opens NAME's mail
   * (`auth_master_user_separator = *`), so a gateway holds one secret instead of one per user.
   */
  master: { user: string; password: string; separator: '*' };
  /** Adds a user (a new name); Dovecot knows it from the next login or delivery on. */
  addUser(name: string, password: string): DovecotUser;
  /**
   * Gives `mailbox` of `user` a new UIDVALIDITY (`doveadm mailbox update --uid-validity`), as when a
   * server's folder is rebuilt; returns the new value. Clients holding UIDs of it must start over.
   */
  resetUidValidity(user: string, mailbox: string, uidValidity?: number): number;
  /** Runs `doveadm ARGS` against this instance; returns its standard output. */
  doveadm(args: string[]): string;
  /** Stops Dovecot (its master process and with it every child) and removes the folder. */
  stop(): Promise<void>;
}

/** `{SSHA512}`: a salted hash Dovecot checks, made here without a process per user (`doveadm pw` costs ~50 ms each). */
function passwordHash(password: string): string {
  const salt = randomBytes(8);
  return `{SSHA512}${Buffer.concat([createHash('sha512').update(password).update(salt).digest(), salt]).toString('base64')}`;
}

/** Dovecot's passwd-file lines are `:`-separated; a name or password with `:` or a line break would forge fields. */
function checkField(what: string, value: string): void {
  if (!value || /[:\s]/.test(value)) throw new Error(`dovecot: ${what} ${JSON.stringify(value)} may not be empty or hold ':' or white space`);
}

function ids(user: string): { uid: number; gid: number } {
  return { uid: Number(execFileSync('id', ['-u', user]).toString()), gid: Number(execFileSync('id', ['-g', user]).toString()) };
}

/** The mail user, made once per machine; two test processes racing to make it both end up with it. */
function ensureMailUser(): { uid: number; gid: number } {
  if (spawnSync('id', ['-u', dovecotMailUser]).status !== 0) {
    const made = spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', dovecotMailUser], { encoding: 'utf8' });
    if (made.status !== 0 && spawnSync('id', ['-u', dovecotMailUser]).status !== 0) throw new Error(`dovecot: cannot make the mail user ${dovecotMailUser}: ${made.stderr}`);
  }
  return ids(dovecotMailUser);
}

/**
 * The running processes of one Dovecot instance: the master's children, and those that outlived it (a process
 * still serving a client, or still written to, stays after the master), found by the title each sets
 * (`dovecot-INSTANCE/SERVICE`; a child just started has no title yet, hence the parent too).
 */
function instanceProcesses(instance: string, master: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const [state, parent] = readFileSync(`/proc/${entry}/stat`, 'latin1').split(') ').at(-1)!.split(' ');
      if (state === 'Z' || state === 'X') continue;
      if (Number(parent) === master || readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes(`${instance}/`)) found.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

function signal(pids: number[], name: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, name);
    } catch {
      // Gone meanwhile.
    }
  }
}

/**
 * Resolves once a server on loopback `port` greets with `greeting`; rejects as soon as `child` exits, or
 * after 10 s. A greeting, not an open port: the master binds its ports first and starts the processes that
 * answer (and handles SIGTERM) only after, so a test stopping it at once would find it deaf to the signal.
 */
async function waitForGreeting(port: number, greeting: string, child: ChildProcess, why: () => string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`dovecot exited at start: ${why()}`);
    const greeted = await new Promise<boolean>((done) => {
      const socket = connect(port, '127.0.0.1');
      let heard = '';
      socket.setTimeout(1000, () => socket.destroy());
      socket.on('data', (chunk) => {
        heard += chunk.toString('latin1');
        if (heard.includes('\n')) socket.destroy();
      });
      socket.on('error', () => undefined);
      socket.on('close', () => done(heard.startsWith(greeting)));
    });
    if (greeted) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`dovecot never greeted on ${port}: ${why()}`);
}

export async function startDovecot(options: DovecotOptions = {}): Promise<Dovecot> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      // Another process may bind a port between `freePort` and Dovecot: start again on other ports.
      if (attempt === 3 || !String(error).includes('Address already in use')) throw error;
    }
  }
}

async function startOnce(options: DovecotOptions): Promise<Dovecot> {
  if (process.getuid?.() !== 0) throw new Error('dovecot: the test harness runs Dovecot as root (it switches to its own users itself)');
  const version = spawnSync('dovecot', ['--version'], { encoding: 'utf8' });
  if (version.status !== 0) throw new Error('dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd; .ci/setup does)');
  // 2.4 changed the configuration language; this file speaks 2.3's (Debian 12's).
  if (!version.stdout.startsWith('2.3.')) throw new Error(`dovecot: this harness writes Dovecot 2.3 configuration, found ${version.stdout.trim()}`);
  const mailUser = ensureMailUser();
  const internal = ids('dovecot');
  const domain = options.domain ?? 'example.test';
  // Under the system's temporary folder (never under /root, which the mail user cannot search), opened to
  // all for search so Dovecot's processes, running as other users, reach their files.
  const dir = mkdtempSync(join(tmpdir(), 'syncpoint-dovecot-'));
  chmodSync(dir, 0o755);
  for (const sub of ['run', 'state', 'mail']) mkdirSync(join(dir, sub));
  chownSync(join(dir, 'mail'), mailUser.uid, mailUser.gid);
  const [imapPort, lmtpPort] = [await freePort(), await freePort()];

  const users: Record<string, DovecotUser> = {};
  // One passwd-file per user (users/NAME): Dovecot rereads a changed passwd-file at most once a second, so a
  // user added to a shared file could stay unknown for that second; a file it has never opened is read at once.
  const usersDir = join(dir, 'users');
  mkdirSync(usersDir, { mode: 0o750 });
  chownSync(usersDir, 0, internal.gid);
  const addUser = (name: string, password: string): DovecotUser => {
    checkField('user name', name);
    checkField('password', password);
    // Lower case: Dovecot finds the user's file by the lower-cased login (`%Ln`); '*' would split a master login.
    if (name !== name.toLowerCase() || /[/*@]/.test(name)) throw new Error(`dovecot: user name ${JSON.stringify(name)} must be lower case, without '/', '*' or '@'`);
    if (Object.hasOwn(users, name)) throw new Error(`dovecot: user ${name} exists already`);
    writeFileSync(join(usersDir, name), `${name}:${passwordHash(password)}::::::\n`, { mode: 0o640 });
    chownSync(join(usersDir, name), 0, internal.gid);
    return (users[name] = { password, address: `${name}@${domain}` });
  };
  for (const [name, password] of Object.entries(options.users ?? { alice: randomBytes(9).toString('hex'), bob: randomBytes(9).toString('hex') })) addUser(name, password);
  const master = { user: 'syncpoint-master', password: randomBytes(12).toString('hex'), separator: '*' as const };
  const mastersFile = join(dir, 'masters');
  writeFileSync(mastersFile, `${master.user}:${passwordHash(master.password)}\n`, { mode: 0o640 });
  chownSync(mastersFile, 0, internal.gid);

  const config = join(dir, 'dovecot.conf');
  const instance = `syncpoint-${process.pid}-${dir.slice(-6)}`;
  writeFileSync(config, `# Written by test/support/dovecot.ts for one test run.
instance_name = ${instance}
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
listen = 127.0.0.1
protocols = imap lmtp
# Loopback only: plain passwords without TLS, as the gateway may be configured.
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_master_user_separator = ${master.separator}
default_internal_user = dovecot
default_login_user = dovenull
mail_uid = ${mailUser.uid}
mail_gid = ${mailUser.gid}
first_valid_uid = ${mailUser.uid}
last_valid_uid = ${mailUser.uid}
mail_location = maildir:~/Maildir
# NOTIFY (RFC 5465) needs the mailbox list index; CONDSTORE, QRESYNC, MOVE, UIDPLUS and IDLE are built in.
mailbox_list_index = yes
# No growing delay after failed logins (Dovecot's auth penalty, kept per client address in anvil: every test
# connects from 127.0.0.1, and tests of a wrong password would slow the next ones by seconds); the auth
# process cannot reach the penalty socket with mode 0, and then skips the penalty. A failed login is still
# answered after up to half a second (the auth process flushes failures twice a second), not 2 s.
auth_failure_delay = 0
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
# Throwaway mail: no fsync per delivery, so filling a large folder for the bench is quick.
mail_fsync = never
protocol imap {
  mail_max_userip_connections = ${options.maxUserIpConnections ?? 10}
}
# LMTP's recipient is NAME@DOMAIN; the user is NAME.
protocol lmtp {
  auth_username_format = %Ln
}
passdb {
  driver = passwd-file
  args = ${mastersFile}
  master = yes
  # The master's login still needs the target user to exist in the next passdb.
  result_success = continue
}
passdb {
  driver = passwd-file
  args = ${usersDir}/%Ln
}
userdb {
  driver = passwd-file
  args = ${usersDir}/%Ln
  default_fields = uid=${mailUser.uid} gid=${mailUser.gid} home=${dir}/mail/%n
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${imapPort}
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${lmtpPort}
  }
}
`);

  const logTail = () => {
    try {
      return readFileSync(join(dir, 'dovecot.log'), 'utf8').split('\n').slice(-5).join('\n');
    } catch {
      return '(no log)';
    }
  };
  let stderr = '';
  const child = spawn('dovecot', ['-F', '-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const pid = child.pid!;
  // Dovecot outlives a test process that dies without stopping it (a crash, a kill, a timeout); this watchdog
  // holds a pipe from the test process and, when that pipe closes for whatever reason, stops Dovecot (its
  // master and its children, which would otherwise wait for it) and removes the folder once it is gone (10 s at most).
  const cleanup = 'while read -r _; do :; done; kill -TERM "$0" 2>/dev/null; pkill -TERM -P "$0"; i=0; while kill -0 "$0" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; rm -rf "$1"';
  const watchdog = spawn('sh', ['-c', cleanup, String(pid), dir], { stdio: ['pipe', 'ignore', 'ignore'] });
  // Neither keeps the test process alive; a test that forgets `stop` still ends (and the watchdog then stops Dovecot).
  for (const handle of [child, watchdog, child.stderr, watchdog.stdin] as { unref?: () => void }[]) handle.unref?.();
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  const onExit = () => {
    watchdog.kill('SIGKILL');
    signal([pid, ...instanceProcesses(instance, pid)], 'SIGTERM');
    removeDir();
  };
  process.on('exit', onExit);
  const stop = async () => {
    process.off('exit', onExit);
    // The watchdog first, so it cannot signal a process id that a new process has taken after Dovecot.
    watchdog.kill('SIGKILL');
    if (child.exitCode === null && child.signalCode === null) {
      let exited = false;
      child.once('exit', () => (exited = true));
      // Its processes too, and again while it lives: the master waits up to 5 s for children that miss its going.
      for (let i = 0; !exited; i++) {
        if (i % 10 === 0) signal([pid, ...instanceProcesses(instance, pid)], i < 500 ? 'SIGTERM' : 'SIGKILL');
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    // What the master left running ends too, so no process outlives `stop`.
    for (let i = 0, left = instanceProcesses(instance, pid); left.length > 0; i++, left = instanceProcesses(instance, pid)) {
      if (i === 0) signal(left, 'SIGTERM');
      if (i === 200) signal(left, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 10));
    }
    removeDir();
  };
  try {
    const why = () => `${stderr.trim()} ${logTail()}`;
    await waitForGreeting(imapPort, '* OK', child, why);
    await waitForGreeting(lmtpPort, '220 ', child, why);
  } catch (error) {
    await stop();
    throw error;
  }

  const doveadm = (args: string[]): string => {
    const done = spawnSync('doveadm', ['-c', config, ...args], { encoding: 'utf8' });
    if (done.status !== 0) throw new Error(`doveadm ${args.join(' ')} failed (${done.status}): ${done.stderr}${done.stdout}`);
    return done.stdout;
  };
  return {
    host: '127.0.0.1',
    imapPort,
    lmtpPort,
    dir,
    domain,
    users,
    master,
    addUser,
    resetUidValidity(user, mailbox, uidValidity) {
      const status = doveadm(['-f', 'flow', 'mailbox', 'status', '-u', user, 'uidvalidity', mailbox]);
      const current = Number(/uidvalidity=(\d+)/.exec(status)?.[1]);
      if (!current) throw new Error(`doveadm: no UIDVALIDITY for ${user} ${mailbox}: ${status}`);
      const next = uidValidity ?? current + 1;
      doveadm(['mailbox', 'update', '--uid-validity', String(next), '-u', user, mailbox]);
      return next;
    },
    doveadm,
    stop,
  };
}

/** The messages of `user`'s folder `path` with that subject, as another mail program sees them: their flags and source. */
export function messagesWithSubject(dovecot: Dovecot, user: string, path: string, subject: string): Promise<Array<{ flags: string[]; source: string }>> {
  return asMailClient(dovecot, user, async (client) => {
    const mailbox = await client.mailboxOpen(path);
    const out: Array<{ flags: string[]; source: string }> = [];
    if (mailbox.exists === 0) return out;
    for await (const m of client.fetch('1:*', { envelope: true, flags: true, source: true })) {
      if (m.envelope?.subject === subject) out.push({ flags: [...(m.flags ?? [])].sort(), source: m.source?.toString('utf8') ?? '' });
    }
    return out;
  });
}

/**
 * Runs `work` as another mail program of `user` would: on an IMAP connection of its own, signed in with
 * the user's password, logged out after.
 */
export async function asMailClient<T>(dovecot: Dovecot, user: string, work: (client: ImapFlow) => Promise<T>): Promise<T> {
  const known = dovecot.users[user];
  if (!known) throw new Error(`Dovecot has no user ${user}`);
  const client = new ImapFlow({ host: dovecot.host, port: dovecot.imapPort, secure: false, auth: { user, pass: known.password }, logger: false });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.logout();
  }
}
