import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { addRemoteOptions, transportFor, type RemoteOptions } from './remote-options.js';

export function registerSyncCommand(program: Command): void {
  addRemoteOptions(program.command('sync <dir>').description('two-way sync of a folder of .vcf/.ics files with a collection'))
    .option('--watch', 'after syncing, keep the folder in sync through push until stopped')
    .action(async (dir: string, opts: RemoteOptions & { watch?: boolean }) => {
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
      if (!opts.watch) return;
      const watching = await watchFolder(folder, (line) => process.stdout.write(`${line}\n`));
      process.stdout.write('watching; Ctrl-C stops\n');
      await new Promise<void>((resolve) => {
        const stop = () => void watching.stop().then(resolve);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
