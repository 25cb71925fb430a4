import type { PushMessage } from '../../../protocol/push.js';
import type { Channel } from '../../../hub/push-channel.js';
import { credentialOf } from '../../../hub/accounts.js';
import type { EasContext } from '../context.js';
import { saveMemory } from '../device-memory.js';
import { foldersOf } from '../folders.js';
import { child, children, namespace, text, type WbxmlElement } from '../wbxml/element.js';

/**
 * Ping (MS-ASCMD 2.2.1.13): the device names folders and a heartbeat, and the answer comes when one of
 * them changes, or with "nothing changed" when the heartbeat runs out. A waiting Ping is an idle socket
 * and a channel of the push hub, woken by the same commit-time notifications as WebSocket devices; it
 * never polls. It changes no sync state, so it is never taken for an acknowledgement of anything.
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

export async function ping(ctx: EasContext, body: WbxmlElement | undefined): Promise<WbxmlElement> {
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

  const changed = await waitForChanges(ctx, folders, answerAfterMs(heartbeatSeconds));
  if (changed.length === 0) return ping_('Ping', ping_('Status', String(pingStatus.expired)));
  return ping_('Ping', ping_('Status', String(pingStatus.changes)), ping_('Folders', ...changed.map((id) => ping_('Folder', id))));
}

/**
 * Resolves with the folders that changed, or none once `waitMs` passes, the device hangs up, or a newer
 * Ping of the device takes over. The channel is registered before looking at what is already waiting,
 * so a change commits either before the look (and is counted) or after the registration (and wakes it).
 */
export async function waitForChanges(ctx: EasContext, folders: readonly string[], waitMs: number): Promise<string[]> {
  let finish!: (ids: string[]) => void;
  const done = new Promise<string[]>((resolve) => (finish = resolve));
  const watched = new Set(folders);
  const channel: Channel = {
    kind: 'eas-ping',
    accountId: ctx.point.accountId,
    deviceId: ctx.point.device.id,
    tokenId: ctx.principal.tokenId,
    collections: watched,
    lastToken: 0,
    send(message: PushMessage) {
      if (message.type === 'change' && watched.has(message.collectionId)) finish([message.collectionId]);
      else if (message.type === 'syncRequest') finish([...watched]);
    },
    beat: () => true,
    close: () => finish([]),
  };
  const timer = setTimeout(() => finish([]), waitMs);
  void ctx.hungUp.then(() => finish([]));
  try {
    await ctx.pings.register(channel, credentialOf(ctx.principal));
    const pending = await ctx.hub.pendingChanges(ctx.point.accountId, ctx.point.device.id, folders, 1);
    const waiting = folders.filter((id) => (pending.get(id)?.pending ?? 0) > 0);
    if (waiting.length > 0) finish(waiting);
    return await done;
  } finally {
    // Whatever ended the wait (or failed before it), the channel and the timer go with it.
    clearTimeout(timer);
    ctx.pings.unregister(channel);
  }
}
