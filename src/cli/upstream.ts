import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import type { UpstreamView } from '../hub/upstreams.js';
import { readKeyFile, writeNewKeyFile } from '../server/secret-key.js';
import { addDataOptions, withLocalHub, type DataOptions } from './local-hub.js';
import { obtainPassword } from './password.js';
import { accountId } from './token.js';

type KeyOptions = DataOptions & { secretKeyFile?: string };

const keyOption = (command: Command) =>
  command.option('--secret-key-file <file>', 'the key upstream passwords are sealed with (env SYNCPOINT_SECRET_KEY_FILE; default on SQLite: DATA.secret-key, made if missing; required on PostgreSQL)');

const at = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());

function printUpstream(u: UpstreamView): void {
  process.stdout.write(`${u.id}\t${u.url}\t${u.username}\t${u.state}\tlast run ${at(u.lastRunAt)}\tfailures ${u.failures}\tlast error ${u.lastError ?? '-'}\n`);
  for (const c of u.collections) process.stdout.write(`\t${c.url}\t-> ${c.collectionName} (${c.kind})\n`);
}

/** `syncpoint upstream …`: the upstream servers an account keeps in sync (docs/operations.md § Upstream servers). */
export function registerUpstreamCommands(program: Command): void {
  const upstream = program.command('upstream').description('upstream CardDAV/CalDAV and IMAP accounts an account keeps in two-way sync (works on the data directory)');
  keyOption(addDataOptions(upstream.command('add')))
    .description('discover an upstream account’s address books and calendars (or, with --kind imap, its mail folders) and map each to a collection, made for it unless --collection names one')
    .requiredOption('--user <name>', 'the Syncpoint account')
    .option('--kind <kind>', 'dav (CardDAV/CalDAV) or imap', 'dav')
    .option('--url <url>', 'a dav upstream: the server, e.g. https://dav.example.com/ (its well-known URLs are tried) or a principal or home URL')
    .option('--imap <url>', 'an imap upstream: its IMAP server, imaps://HOST:PORT or imap://HOST:PORT (STARTTLS when offered)')
    .option('--smtp <url>', 'an imap upstream: its SMTP submission server for sending, smtps://HOST:PORT or smtp://HOST:PORT')
    .requiredOption('--username <name>', 'the user name at the upstream')
    .option('--password-stdin', 'read the upstream password from standard input (else SYNCPOINT_PASSWORD or a prompt)')
    .option('--collection <name>', 'map every upstream collection that can feed it to this existing collection')
    .action(async (opts: KeyOptions & { user: string; kind: string; url?: string; imap?: string; smtp?: string; username: string; passwordStdin?: boolean; collection?: string }) => {
      if (opts.kind !== 'dav' && opts.kind !== 'imap') throw new Error(`--kind is dav or imap, not ${opts.kind}`);
      const url = opts.kind === 'imap' ? opts.imap : opts.url;
      if (url === undefined) throw new Error(opts.kind === 'imap' ? '--kind imap needs --imap URL' : 'give --url URL');
      if (opts.kind === 'dav' && (opts.imap !== undefined || opts.smtp !== undefined)) throw new Error('--imap and --smtp are for --kind imap');
      const password = await obtainPassword(opts, process.env, false);
      await withLocalHub(opts, async (hub) => {
        const added = await hub.upstreams.add(await accountId(hub, opts.user), { kind: opts.kind as 'dav' | 'imap', url, submissionUrl: opts.smtp, username: opts.username, password, collection: opts.collection });
        process.stdout.write(`added upstream ${added.id} with ${added.collections.length} mapped collections\n`);
        printUpstream(added);
      });
    });
  addDataOptions(upstream.command('list'))
    .description('list an account’s upstreams (never their passwords), with their state, last run and last error, and their mapped collections')
    .requiredOption('--user <name>', 'the Syncpoint account')
    .action(async (opts: DataOptions & { user: string }) => {
      await withLocalHub(opts, async (hub) => {
        for (const u of await hub.upstreams.list(await accountId(hub, opts.user))) printUpstream(u);
      });
    });
  keyOption(addDataOptions(upstream.command('sync [id]')))
    .description('run the account’s upstreams now (one, with its id), two-way, until nothing more is to be had; one under way elsewhere is skipped')
    .requiredOption('--user <name>', 'the Syncpoint account')
    .action(async (id: string | undefined, opts: KeyOptions & { user: string }) => {
      await withLocalHub(opts, async (hub) => {
        const runs = await hub.upstreams.run(await accountId(hub, opts.user), id === undefined ? {} : { upstreamId: id });
        for (const r of runs) process.stdout.write(`${r.id}\t${!r.ran ? 'skipped: a run of it is under way elsewhere' : r.error === null ? 'ok' : `failed: ${r.error}`}\n`);
        if (runs.some((r) => r.ran && r.error !== null)) process.exitCode = 1;
      });
    });
  addDataOptions(upstream.command('remove <id>'))
    .description('forget an upstream, its mappings and its sync point; the collections and their items stay')
    .requiredOption('--user <name>', 'the Syncpoint account')
    .action(async (id: string, opts: DataOptions & { user: string }) => {
      await withLocalHub(opts, async (hub) => {
        const removed = await hub.upstreams.remove(await accountId(hub, opts.user), id);
        process.stdout.write(`removed upstream ${removed.id} (${removed.url}); its collections stay\n`);
      });
    });
  addDataOptions(upstream.command('rotate-key'))
    .description('re-seal every upstream password of every account under a new secret key, one transaction per account; run again if interrupted')
    .requiredOption('--old-key-file <file>', 'the key the passwords are sealed with now')
    .requiredOption('--new-key-file <file>', 'the new key; made (mode 0600) if the file does not exist')
    .action(async (opts: DataOptions & { oldKeyFile: string; newKeyFile: string }) => {
      const oldKey = readKeyFile(opts.oldKeyFile);
      const newKey = existsSync(opts.newKeyFile) ? readKeyFile(opts.newKeyFile) : (writeNewKeyFile(opts.newKeyFile, true) ?? readKeyFile(opts.newKeyFile));
      if (newKey.id === oldKey.id) throw new Error('the old and the new key file hold the same key');
      await withLocalHub(opts, async (hub) => {
        const { resealed, already } = await hub.upstreams.rotateKey(oldKey, newKey);
        process.stdout.write(`re-sealed ${resealed} upstream passwords under key ${newKey.id} (${already} were already); every process must now use ${opts.newKeyFile} as its secret key file\n`);
      });
    });
}
