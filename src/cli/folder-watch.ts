import { watch } from 'node:fs';
import { openNodeSocket } from '../sdk/node/websocket.js';
import { PushSubscriber } from '../sdk/push.js';
import type { HttpTransport } from '../sdk/transport.js';
import { openFolder, type FolderSyncOptions } from './folder-sync.js';

/**
 * `syncpoint sync DIR --watch`: keeps the folder in sync until stopped. Server changes arrive by push
 * and are written to the folder at once; edits in the folder are picked up by a file watcher and sent
 * by a sync (debounced). Push loss, reconnects and gaps are the subscriber's business: each ends in a
 * sync, after which the folder is rewritten from the replica.
 */
/** A folder (or Maildir: maildir-watch.ts) kept in sync until stopped. */
export interface FolderWatch {
  subscriber: PushSubscriber;
  stop(): Promise<void>;
}

/** How long a file watcher's event waits for the others of its burst (an editor's save, a reader's renames): one sync for all. */
export const watchDebounceMs = 300;

export async function watchFolder(o: FolderSyncOptions & { transport: HttpTransport }, report: (line: string) => void): Promise<FolderWatch> {
  const folder = await openFolder(o);
  const subscriber = new PushSubscriber({
    transport: o.transport,
    deviceId: folder.deviceId,
    collections: [folder.collectionId],
    client: folder.client,
    openSocket: openNodeSocket,
    onMessage: (message, outcome) => {
      if (message.type !== 'change' || outcome !== 'applied') return;
      const { written, removed } = folder.materialize();
      if (written + removed > 0) report(`${message.command.op} ${message.command.serverId}: ${written} written, ${removed} removed`);
    },
    onSynced: () => {
      const { written, removed } = folder.materialize();
      if (written + removed > 0) report(`synced: ${written} written, ${removed} removed`);
    },
    onError: (err) => report(`error: ${err instanceof Error ? err.message : String(err)}`),
  });
  let timer: NodeJS.Timeout | undefined;
  const watcher = watch(o.dir, () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const { added, changed, deleted } = folder.scan();
      if (added + changed + deleted === 0) return;
      report(`local: ${added} new, ${changed} changed, ${deleted} deleted`);
      void subscriber.requestSync();
    }, watchDebounceMs);
  });
  folder.scan();
  subscriber.start();
  return {
    subscriber,
    async stop() {
      watcher.close();
      clearTimeout(timer);
      await subscriber.stop();
      folder.close();
    },
  };
}
