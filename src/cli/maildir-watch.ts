import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { openNodeSocket } from '../sdk/node/websocket.js';
import { PushSubscriber } from '../sdk/push.js';
import type { HttpTransport } from '../sdk/transport.js';
import { watchDebounceMs, type FolderWatch } from './folder-watch.js';
import { openMaildir, type MaildirSyncOptions } from './maildir-sync.js';

/**
 * `syncpoint sync DIR --kind mail --watch`: keeps a Maildir in sync until stopped, as folder-watch.ts
 * keeps a folder of files. New mail, and flags set elsewhere, arrive by push and are written at once;
 * a reader's renames (flags) and removals (deletes) in new/ and cur/ are picked up by file watchers and
 * sent by a sync (debounced). Reading the Maildir and writing to it take turns, one at a time: a
 * message's file and its record in the replica change together, so neither ever sees half of the other.
 */
export async function watchMaildir(o: MaildirSyncOptions & { transport: HttpTransport }, report: (line: string) => void): Promise<FolderWatch> {
  const maildir = await openMaildir(o);
  let turns: Promise<void> = Promise.resolve();
  const inTurn = (work: () => Promise<void> | void) => {
    turns = turns.then(work).catch((err: unknown) => report(`error: ${err instanceof Error ? err.message : String(err)}`));
  };
  const write = (why: string) =>
    inTurn(async () => {
      const out = await maildir.materialize();
      if (out.delivered + out.renamed + out.removed > 0) report(`${why}: ${out.delivered} messages written, ${out.renamed} renamed, ${out.removed} removed`);
      for (const f of out.failed) report(`not written ${f.serverId}: ${f.message}`);
    });
  const subscriber = new PushSubscriber({
    transport: o.transport,
    deviceId: maildir.deviceId,
    collections: [maildir.collectionId],
    client: maildir.client,
    openSocket: openNodeSocket,
    onMessage: (message, outcome) => {
      if (message.type === 'change' && outcome === 'applied') write(`${message.command.op} ${message.command.serverId}`);
    },
    onSynced: () => write('synced'),
    onError: (err) => report(`error: ${err instanceof Error ? err.message : String(err)}`),
  });
  let timer: NodeJS.Timeout | undefined;
  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(
      () =>
        inTurn(() => {
          const { uploaded } = maildir.scan();
          if (uploaded.changed + uploaded.deleted === 0) return;
          report(`local: ${uploaded.changed} changed, ${uploaded.deleted} deleted`);
          void subscriber.requestSync();
        }),
      watchDebounceMs,
    );
  };
  // A reader delivers into new/, moves to cur/ and renames there; tmp/ is a writer's own.
  const watchers: FSWatcher[] = ['new', 'cur'].map((sub) => watch(join(o.dir, sub), changed));
  // What the reader did since the run before: sent by the subscriber's first sync.
  maildir.scan();
  subscriber.start();
  return {
    subscriber,
    async stop() {
      for (const w of watchers) w.close();
      clearTimeout(timer);
      await subscriber.stop();
      await turns;
      maildir.close();
    },
  };
}
