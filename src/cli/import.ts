import type { Command } from 'commander';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { addRemoteOptions, transportFor, type RemoteOptions } from './remote-options.js';

/**
 * `syncpoint import FILE`: uploads a large export as an upload-only sync point (getChanges false), so
 * it gets the same guarantees as any device: batches are retried with their sync key, and nothing is
 * added twice. Items the server refuses are listed at the end; the rest go in.
 */
export function registerImportCommand(program: Command): void {
  addRemoteOptions(program.command('import <file>').description('import a .vcf or .ics export into a collection, with a progress bar')).action(
    async (file: string, opts: RemoteOptions) => {
      const [{ splitCalendar, splitVcards }, { openSqliteReplica }, { recordLocalPut }, { SyncClient }, { resolveCollection }] = await Promise.all([
        import('../content/split-export.js'),
        import('../sdk/node/sqlite-replica.js'),
        import('../sdk/replica.js'),
        import('../sdk/sync-loop.js'),
        import('./collections.js'),
      ]);
      const text = readFileSync(file, 'utf8');
      const isVcf = extname(file).toLowerCase() === '.vcf';
      const items = isVcf ? splitVcards(text) : splitCalendar(text);
      const transport = await transportFor(opts);
      const collection = await resolveCollection(transport, opts.collection, opts.kind, isVcf ? 'contacts' : 'events');
      const work = mkdtempSync(join(tmpdir(), 'syncpoint-import-'));
      const replica = openSqliteReplica(join(work, 'replica.db'));
      try {
        replica.transaction((tx) => items.forEach((data, i) => recordLocalPut(tx, collection.id, `item-${i}`, data)));
        const bar = progressBar(items.length);
        const client = new SyncClient({
          transport,
          replica,
          device: { id: `import-${randomUUID()}`, name: `import of ${file}` },
          getChanges: false,
          onProgress: (s) => bar(s.sent),
        });
        const summary = await client.syncCollection(collection.id);
        process.stderr.write('\n');
        const accepted = summary.sent - summary.rejected.length;
        process.stdout.write(`imported ${accepted} of ${items.length} items into ${collection.name}\n`);
        for (const r of summary.rejected.slice(0, 20)) process.stderr.write(`refused ${r.localId}: ${r.status}: ${r.message}\n`);
        if (summary.rejected.length > 20) process.stderr.write(`... and ${summary.rejected.length - 20} more refused\n`);
        if (summary.rejected.length > 0) process.exitCode = 2;
      } finally {
        replica.close();
        rmSync(work, { recursive: true, force: true });
      }
    },
  );
}

function progressBar(total: number): (done: number) => void {
  const width = 30;
  return (done) => {
    const filled = total === 0 ? width : Math.round((done / total) * width);
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
    process.stderr.write(process.stderr.isTTY ? `\r${line}` : `${line}\n`);
  };
}
