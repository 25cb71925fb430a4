import { HeldAnswer, type EasContext } from '../context.js';
import { saveMemory } from '../device-memory.js';
import { foldersOf } from '../folders.js';
import { child, children, namespace, text, type WbxmlElement } from '../wbxml/element.js';

/**
 * Ping (MS-ASCMD 2.2.1.13): the device names folders and a heartbeat, and the answer comes when one of
 * them changes, or with "nothing changed" when the heartbeat runs out. A waiting Ping is an idle socket
 * and a channel of the push hub (holds.ts), woken by the same commits as WebSocket devices; it never
 * polls. It changes no sync state, so it is never taken for an acknowledgement of anything.
 */
const ping_ = namespace('Ping');

export const pingStatus = { expired: 1, changes: 2, missingParameters: 3, syntaxError: 4, heartbeatOutOfBounds: 5, tooManyFolders: 6, hierarchyChanged: 7 } as const;

/** Heartbeat bounds in seconds; a request outside them gets Status 5 and the bound to use. */
export const heartbeatSecondsMin = 30;
export const heartbeatSecondsMax = 3540;
export const foldersMax = 300;

/**
 * The answer goes out a little before the heartbeat the device asked for: clients time the request
 * out at about that heartbeat (an Android client asking for 30 s gives up soon after 30 s), and a
 * "nothing changed" that arrives after that is lost and costs a reconnect.
 */
export function answerAfterMs(heartbeatSeconds: number): number {
  return heartbeatSeconds * 1000 - Math.min(10_000, heartbeatSeconds * 100);
}

export async function ping(ctx: EasContext, body: WbxmlElement | undefined): Promise<WbxmlElement | HeldAnswer> {
  const heartbeatText = text(child(body, 'HeartbeatInterval'));
  const folderElements = children(child(body, 'Folders'), 'Folder');
  // Counted before the ids are read; the device's last folders, kept below, are the account's own.
  if (folderElements.length > foldersMax) return ping_('Ping', ping_('Status', String(pingStatus.tooManyFolders)), ping_('MaxFolders', String(foldersMax)));
  const folderIds = folderElements.map((f) => text(child(f, 'Id')) ?? '');
  // Parts left out repeat those of the device's last Ping.
  const heartbeatSeconds = heartbeatText !== undefined ? Number(heartbeatText) : ctx.memory.lastPing?.heartbeatSeconds;
  const folders = folderIds.length > 0 ? folderIds : ctx.memory.lastPing?.folders;
  if (heartbeatSeconds === undefined || !folders) return ping_('Ping', ping_('Status', String(pingStatus.missingParameters)));
  if (!Number.isInteger(heartbeatSeconds)) return ping_('Ping', ping_('Status', String(pingStatus.syntaxError)));
  if (heartbeatSeconds < heartbeatSecondsMin || heartbeatSeconds > heartbeatSecondsMax) {
    const bound = heartbeatSeconds < heartbeatSecondsMin ? heartbeatSecondsMin : heartbeatSecondsMax;
    return ping_('Ping', ping_('Status', String(pingStatus.heartbeatOutOfBounds)), ping_('HeartbeatInterval', String(bound)));
  }
  if (folders.length > foldersMax) return ping_('Ping', ping_('Status', String(pingStatus.tooManyFolders)), ping_('MaxFolders', String(foldersMax)));
  const known = foldersOf(await ctx.hub.accounts.listCollections(ctx.point.accountId));
  if (folders.some((id) => !Object.hasOwn(known, id))) return ping_('Ping', ping_('Status', String(pingStatus.hierarchyChanged)));
  ctx.memory.lastPing = { heartbeatSeconds, folders };
  // Kept before the wait, so an empty Ping on another process finds it while this one is held.
  await saveMemory(ctx);
  return new HeldAnswer(folders, answerAfterMs(heartbeatSeconds), pingAnswer);
}

/** What a held Ping answers: the folders that changed (Status 2), or none (Status 1). */
function pingAnswer(changed: readonly string[]): WbxmlElement {
  if (changed.length === 0) return ping_('Ping', ping_('Status', String(pingStatus.expired)));
  return ping_('Ping', ping_('Status', String(pingStatus.changes)), ping_('Folders', ...changed.map((id) => ping_('Folder', id))));
}
