import Database from 'better-sqlite3';
import { limits } from '../../src/core/limits.js';
import { databaseFile } from '../../src/server/open-store.js';
import { addAll, firstKey, postSync, syncBody } from './native.js';
import { answered, exchange, pool, type LimitCase, type Target } from './wire.js';

/**
 * Push cases of the limits bench: one sync fanned out to many long-poll mailboxes (each gets a token
 * row per change), and a sync echoing the same full token range many times.
 */

const card = (i: number) => `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:push-${i}\r\nFN:Pushed Person ${i}\r\nN:${i};Pushed;;;\r\nEND:VCARD\r\n`;

/** Opens a long-poll mailbox for `device` (a poll that does not wait; the mailbox stays for 120 s); 409 when the account has as many as it may. */
async function openMailbox(target: Target, device: string, refusedOk = false): Promise<number> {
  const res = await exchange(target, 'GET', `/api/v1/push/poll?device=${encodeURIComponent(device)}&wait=0`, { authorization: target.authorization });
  if (res.status !== 200 && !(refusedOk && res.status === 409)) throw new Error(`poll for ${device} answered ${res.status}: ${res.head}`);
  return res.status;
}

/** The push-token rows in the server's database (read beside the running server, which uses WAL). */
function pushTokenRows(target: Target): number {
  const db = new Database(databaseFile(target.dataDir), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM push_tokens').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Adds of `count` small contacts from one device, as one sync body of about `count` x 120 bytes. */
async function addsBody(target: Target, deviceId: string, count: number): Promise<string> {
  const collectionId = target.collections.contacts as string;
  const syncKey = await firstKey(target, deviceId, collectionId);
  return syncBody('json', deviceId, [{ collectionId, syncKey, commands: Array.from({ length: count }, (_, i) => ({ op: 'add' as const, clientId: `c${i}`, data: card(i) })) }]);
}

const mailboxes = 2000;

/** One sync of `adds` contacts while an attacker holds as many long-poll mailboxes as it can open. */
function fanOutCase(name: string, adds: number): LimitCase {
  return {
    face: 'push',
    case: name,
    async prepare(target) {
      // The attack tries to open them all; the account's bound (pollMailboxesPerAccountMax) refuses the rest with 409.
      const statuses: number[] = [];
      await pool(Array.from({ length: mailboxes }, (_, i) => `mailbox-${i}`), 16, async (device) => void statuses.push(await openMailbox(target, device, true)));
      const opened = statuses.filter((s) => s === 200).length;
      const body = await addsBody(target, 'bench-writer', adds);
      const before = pushTokenRows(target);
      return {
        bytes: Buffer.byteLength(body),
        async run() {
          const res = await postSync(target, 'json', body);
          const bulk = adds > limits.pushNoticesPerCommitMax ? ` (${adds} changes in one commit, over pushNoticesPerCommitMax: a sync request to each mailbox instead)` : '';
          return [answered(res), `${opened} mailboxes opened, ${mailboxes - opened} refused with 409`, `${(pushTokenRows(target) - before).toLocaleString('en')} push_tokens rows written${bulk}`];
        },
      };
    },
  };
}

export const pushCases: LimitCase[] = [
  // The finding's own size; over itemsPerRequestMax, so refused before any work.
  fanOutCase(`60 KB sync with ${mailboxes.toLocaleString('en')} long-poll mailboxes open`, 500),
  // The most a request may carry, which the server does fan out.
  fanOutCase(`sync of ${limits.itemsPerRequestMax} adds, the most a request may carry, with ${mailboxes.toLocaleString('en')} long-poll mailboxes tried`, limits.itemsPerRequestMax),
  {
    face: 'push',
    case: 'echo of 1,000 copies of a full token range',
    async prepare(target) {
      const collectionId = target.collections.contacts as string;
      const syncKey = await firstKey(target, 'bench-pager', collectionId);
      await openMailbox(target, 'bench-pager');
      // 1,000 changes by another device, in as many syncs as a request may carry.
      await addAll(target, 'bench-writer', collectionId, Array.from({ length: 1000 }, (_, i) => card(i)));
      const tokens = Array.from({ length: 1000 }, () => ({ from: 1, to: Number.MAX_SAFE_INTEGER }));
      const body = syncBody('json', 'bench-pager', [{ collectionId, syncKey, tokens }]);
      return { bytes: Buffer.byteLength(body), run: async () => [answered(await postSync(target, 'json', body)), `${pushTokenRows(target)} tokens issued to the pager`] };
    },
  },
];
