import { etagOf } from '../../src/content/etag.js';
import { databaseFile } from '../../src/server/open-store.js';
import { openDatabase } from '../../src/sqlite/open.js';
import { exchange, type Target } from './wire.js';

/**
 * Items that every face now refuses but that a database may still hold, because they were stored
 * before the rule existed: a valid event is PUT by DAV (so it has a name, a fresh seq and its index
 * rows), then its data is replaced in the SQLite file, beside the running server (WAL), with `data`.
 * The etag follows the data, as every write keeps it.
 */
export async function storeBeforeTheRule(target: Target, uid: string, data: string): Promise<void> {
  const valid = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//syncpoint limits bench//EN', 'BEGIN:VEVENT', `UID:${uid}`, 'DTSTAMP:20260101T000000Z', 'DTSTART:20260110T100000Z', 'DURATION:PT1H', 'SUMMARY:limits bench', 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
  const put = await exchange(target, 'PUT', `/dav/users/${encodeURIComponent(target.user)}/calendar/${uid}.ics`, { authorization: target.authorization, 'content-type': 'text/calendar' }, valid);
  if (put.status !== 201) throw new Error(`storing the valid event answered ${put.status}: ${put.head}`);
  const { db, prepare } = openDatabase(databaseFile(target.dataDir));
  try {
    const changed = prepare('UPDATE items SET data = ?, etag = ? WHERE uid = ? AND deleted_at IS NULL').run(data, etagOf(data), uid).changes;
    if (changed !== 1) throw new Error(`${changed} items have UID ${uid}`);
  } finally {
    db.close();
  }
}
