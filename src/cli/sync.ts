import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { addRemoteOptions, transportFor, type RemoteOptions } from './remote-options.js';

export function registerSyncCommand(program: Command): void {
  addRemoteOptions(
    program
      .command('sync <dir>')
      .description(
        'two-way sync of a folder of .vcf/.ics files with a collection; with --kind mail, of a Maildir with a mail folder ' +
          '(flags as Maildir info; a file of a message the server does not know is left alone and reported once: mail arrives by mail)',
      ),
  )
    .option('--watch', 'after syncing, keep the folder (or Maildir) in sync through push until stopped')
    .action(async (dir: string, opts: RemoteOptions & { watch?: boolean }) => {
      if (opts.kind === 'mail') return syncMail(dir, opts);
      // Loaded here, not at the top, as every command's own work is (main.ts).
      const [{ syncFolder }, { watchFolder }] = await Promise.all([import('./folder-sync.js'), import('./folder-watch.js')]);
      mkdirSync(dir, { recursive: true });
      const folder = {
        dir: resolve(dir),
        server: opts.server,
        user: opts.user,
        collectionName: opts.collection,
        ...(opts.kind ? { kind: opts.kind } : {}),
        transport: await transportFor(opts),
      };
      const report = await syncFolder(folder);
      const u = report.uploaded;
      process.stdout.write(
        `synced ${opts.collection}: sent ${u.added} new, ${u.changed} changed, ${u.deleted} deleted; ` +
          `received ${report.received} (${report.written} files written, ${report.removed} removed) in ${report.exchanges} exchanges` +
          (report.retries ? `, ${report.retries} retries` : '') +
          (report.reinitialized ? ', re-initialized' : '') +
          '\n',
      );
      for (const r of report.rejected) process.stderr.write(`refused ${r.localId}: ${r.status}: ${r.message}\n`);
      if (report.rejected.length > 0) process.exitCode = 2;
      if (opts.watch) await keepWatching(() => watchFolder(folder, (line) => process.stdout.write(`${line}\n`)));
    });
}

/** Runs a watch until Ctrl-C or SIGTERM. */
async function keepWatching(start: () => Promise<{ stop(): Promise<void> }>): Promise<void> {
  const watching = await start();
  process.stdout.write('watching; Ctrl-C stops\n');
  await new Promise<void>((resolve) => {
    const stop = () => void watching.stop().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** `syncpoint sync DIR --kind mail`: a Maildir (maildir-sync.ts). */
async function syncMail(dir: string, opts: RemoteOptions & { watch?: boolean }): Promise<void> {
  const [{ syncMaildir }, { watchMaildir }] = await Promise.all([import('./maildir-sync.js'), import('./maildir-watch.js')]);
  mkdirSync(dir, { recursive: true });
  const maildir = { dir: resolve(dir), server: opts.server, user: opts.user, collectionName: opts.collection, kind: 'mail' as const, transport: await transportFor(opts) };
  const report = await syncMaildir(maildir);
  const u = report.uploaded;
  process.stdout.write(
    `synced ${opts.collection}: sent ${u.changed} changed, ${u.deleted} deleted; ` +
      `received ${report.received} (${report.delivered} messages written, ${report.renamed} renamed, ${report.removed} removed) in ${report.exchanges} exchanges` +
      (report.retries ? `, ${report.retries} retries` : '') +
      (report.reinitialized ? ', re-initialized' : '') +
      '\n',
  );
  for (const path of report.unknown) process.stderr.write(`left alone ${path}: the server does not know this message, and mail reaches a folder by mail, not by sync\n`);
  for (const f of report.failed) process.stderr.write(`not written ${f.serverId}: ${f.message}\n`);
  for (const r of report.rejected) process.stderr.write(`refused ${r.localId}: ${r.status}: ${r.message}\n`);
  if (report.rejected.length > 0 || report.failed.length > 0) process.exitCode = 2;
  if (opts.watch) await keepWatching(() => watchMaildir(maildir, (line) => process.stdout.write(`${line}\n`)));
}
