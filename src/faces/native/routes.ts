import type { IncomingMessage, ServerResponse } from 'node:http';
import { limits } from '../../core/limits.js';
import type { Hub } from '../../hub/hub.js';
import { reportedAddress, setEmailSchema, type AccountInfo } from '../../protocol/account.js';
import { collectionListSchema, createCollectionSchema, updateCollectionSchema, type Collection } from '../../protocol/collections.js';
import { httpStatusOf, ProtocolError } from '../../protocol/errors.js';
import type { Conflict, ConflictList, Restored } from '../../protocol/conflicts.js';
import { setPrioritySchema, type DailyActivityInfo, type DeviceInfo, type DeviceList, type SyncNow } from '../../protocol/devices.js';
import type { DeviceHealth } from '../../hub/health.js';
import type { UpstreamView } from '../../hub/upstreams.js';
import { moveMessageSchema, type MovedMessage } from '../../protocol/mail.js';
import { sendMailSchema } from '../../protocol/mail-send.js';
import { addUpstreamSchema, type UpstreamInfo, type UpstreamList, type UpstreamRunInfo } from '../../protocol/upstreams.js';
import { noMetrics, type Metrics } from '../../hub/metrics.js';
import { createAppTokenSchema, type AppTokenInfo, type AppTokenList, type CreatedAppToken } from '../../protocol/tokens.js';
import type { AppTokenRow, CollectionRow, ConflictRow } from '../../hub/records.js';
import type { Principal } from '../../http/principal.js';
import { errorBody, readBody, send } from '../../http/body.js';
import { runNativeSync } from './exchange.js';
import { sendMailPart } from './mail-part.js';
import { decodeBody, encodeBody, encodingOfAccept, encodingOfContentType, mediaTypes, type Encoding } from './codec.js';

/**
 * The native protocol face (docs/protocol.md): POST /api/v1/sync and the collection API. It decodes,
 * hands the hub a validated request, and encodes the answer in the request's encoding.
 */
export const nativePrefix = '/api/v1/';

const toCollection = (row: CollectionRow): Collection => ({
  id: row.id,
  name: row.name,
  kind: row.kind,
  displayName: row.displayName,
  ...(row.color ? { color: row.color } : {}),
  ...(row.description ? { description: row.description } : {}),
  ...(row.calendarId !== null ? { calendarId: row.calendarId } : {}),
});

/** What the face needs of push: the devices page shows who is connected, and "Sync now" asks them. */
export interface PushPort {
  active(accountId: string, deviceId: string): unknown;
  askToSync(accountId: string): Promise<number>;
  disconnect(accountId: string, deviceId: string): void;
}

const activityDaysMax = 90;

const iso = (ms: number) => new Date(ms).toISOString();

const toDeviceInfo = ({ device: d, pending, errors }: DeviceHealth, pushConnected: boolean): DeviceInfo => ({
  id: d.id,
  name: d.name,
  protocol: d.protocol,
  priority: d.priority,
  lastSeenAt: iso(d.lastSeenAt),
  pushConnected,
  ...(pending !== null ? { pending } : {}),
  errors: errors.map((e) => ({ at: iso(e.at), status: e.status, message: e.message })),
});

const toUpstreamInfo = (u: UpstreamView, pending: number | null): UpstreamInfo => ({
  id: u.id,
  kind: u.kind === 'imap' ? 'imap' : 'dav',
  url: u.url,
  ...(u.submissionUrl !== null ? { submissionUrl: u.submissionUrl } : {}),
  username: u.username,
  deviceId: u.deviceId,
  ...(u.priority !== null ? { priority: u.priority } : {}),
  createdAt: iso(u.createdAt),
  state: u.state,
  ...(u.lastRunAt !== null ? { lastRunAt: iso(u.lastRunAt) } : {}),
  ...(u.lastError !== null ? { lastError: u.lastError } : {}),
  ...(u.nextRunAt !== null ? { nextRunAt: iso(u.nextRunAt) } : {}),
  failures: u.failures,
  ...(pending !== null ? { pending } : {}),
  collections: u.collections,
});

/** The account's upstreams with what waits for each one's device (the devices page counts the same). */
async function upstreamList(hub: Hub, accountId: string): Promise<UpstreamInfo[]> {
  const views = await hub.upstreams.list(accountId);
  const pending = new Map((await hub.listDeviceHealth(accountId)).map((h) => [h.device.id, h.pending]));
  return views.map((u) => toUpstreamInfo(u, pending.get(u.deviceId) ?? null));
}

async function accountInfo(hub: Hub, accountId: string): Promise<AccountInfo> {
  const account = await hub.accounts.get(accountId);
  if (!account) throw new ProtocolError('notFound', 'no such account');
  return { name: account.name, ...(account.email !== null ? { email: account.email } : {}), reportedEmail: reportedAddress(account) };
}

const toTokenInfo = (t: AppTokenRow): AppTokenInfo => ({
  id: t.id,
  label: t.label,
  createdAt: iso(t.createdAt),
  ...(t.lastUsedAt !== null ? { lastUsedAt: iso(t.lastUsedAt) } : {}),
});

/** App passwords and devices are managed with the account password (or a session) only, so a stolen device token cannot spread. */
function requirePassword(principal: Principal): void {
  if (principal.tokenId !== undefined) throw new ProtocolError('forbidden', 'app passwords are managed with the account password');
}

const toConflict = (c: ConflictRow): Conflict => ({
  id: c.id,
  collectionId: c.collectionId,
  itemId: c.itemId,
  data: c.data,
  ...(c.lostBy !== null ? { lostBy: c.lostBy } : {}),
  ...(c.wonBy !== null ? { wonBy: c.wonBy } : {}),
  reason: c.reason,
  createdAt: iso(c.createdAt),
  ...(c.restoredAt !== null ? { restoredAt: iso(c.restoredAt) } : {}),
});

/** A percent-encoded path segment, decoded. */
function pathSegment(segment: string, what: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ProtocolError('invalidRequest', `the ${what} is not valid percent-encoding`);
  }
}

export async function handleNative(
  hub: Hub,
  push: PushPort,
  principal: Principal,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  metrics: Metrics = noMetrics,
): Promise<void> {
  const path = url.pathname;
  const isSync = req.method === 'POST' && path === '/api/v1/sync';
  let encoding: Encoding = encodingOfAccept(req.headers.accept);
  try {
    // Routes with a body answer in the body's encoding, and must say what it is.
    const readRequest = async () => {
      encoding = encodingOfContentType(req.headers['content-type']);
      return readBody(req, limits.requestBytesMax);
    };
    const reply = (status: number, root: string, value: object) => send(req, res, status, mediaTypes[encoding], encodeBody(encoding, root, value));
    const route = `${req.method} ${path}`;
    const deviceList = async (): Promise<DeviceList> => ({
      devices: (await hub.listDeviceHealth(principal.accountId)).map((h) => toDeviceInfo(h, push.active(principal.accountId, h.device.id) !== undefined)),
    });
    switch (route) {
      case 'POST /api/v1/sync': {
        const body = await readRequest();
        // The web app is a native client too, but its devices are worth telling apart on the devices page.
        const response = await runNativeSync(hub, principal.accountId, principal.session ? 'web' : 'native', body, encoding, principal.tokenId);
        metrics.nativeExchange('ok');
        return reply(200, 'syncResponse', response);
      }
      case 'GET /api/v1/collections': {
        const rows = await hub.accounts.listCollections(principal.accountId);
        return reply(200, 'collections', collectionListSchema.parse({ collections: rows.map(toCollection) }));
      }
      case 'POST /api/v1/collections': {
        const body = await readRequest();
        const input = decodeBody(body, encoding, 'createCollection', createCollectionSchema);
        return reply(201, 'collection', toCollection(await hub.accounts.createCollection(principal.accountId, input)));
      }
      case 'GET /api/v1/devices':
        return reply(200, 'devices', await deviceList());
      case 'PUT /api/v1/devices/priority': {
        const body = await readRequest();
        const { order } = decodeBody(body, encoding, 'setPriority', setPrioritySchema);
        await hub.setDevicePriority(principal.accountId, order);
        return reply(200, 'devices', await deviceList());
      }
      case 'GET /api/v1/stats/daily': {
        const days = Number(url.searchParams.get('days') ?? 30);
        if (!Number.isInteger(days) || days < 1 || days > activityDaysMax) throw new ProtocolError('invalidRequest', `days must be a whole number from 1 to ${activityDaysMax}`);
        return reply(200, 'dailyActivity', (await hub.dailyActivity(principal.accountId, days)) satisfies DailyActivityInfo);
      }
      case 'POST /api/v1/sync-now': {
        req.resume();
        const asked = await push.askToSync(principal.accountId);
        const { online, offline } = await hub.syncServerPoints(principal.accountId);
        return reply(200, 'syncNow', { asked, serverDriven: { online, offline } } satisfies SyncNow);
      }
      case 'GET /api/v1/upstreams':
        return reply(200, 'upstreams', { upstreams: await upstreamList(hub, principal.accountId) } satisfies UpstreamList);
      case 'POST /api/v1/upstreams': {
        // Where the account's data goes is the account password's (or a session's) to say, as app passwords are.
        requirePassword(principal);
        const input = decodeBody(await readRequest(), encoding, 'addUpstream', addUpstreamSchema);
        return reply(201, 'upstream', toUpstreamInfo(await hub.upstreams.add(principal.accountId, input), null));
      }
      case 'POST /api/v1/mail/send': {
        // Any of the account's devices may send: a device's app password is enough (docs/protocol.md §10.7).
        const input = decodeBody(await readRequest(), encoding, 'sendMail', sendMailSchema);
        return reply(200, 'mailSent', await hub.mail.send(principal.accountId, input));
      }
      case 'GET /api/v1/tokens':
        requirePassword(principal);
        return reply(200, 'tokens', { tokens: (await hub.accounts.listTokens(principal.accountId)).map(toTokenInfo) } satisfies AppTokenList);
      case 'POST /api/v1/tokens': {
        requirePassword(principal);
        const { label } = decodeBody(await readRequest(), encoding, 'createToken', createAppTokenSchema);
        const { row, token } = await hub.accounts.addToken(principal.accountId, label);
        return reply(201, 'token', { ...toTokenInfo(row), token } satisfies CreatedAppToken);
      }
      case 'GET /api/v1/account':
        req.resume();
        return reply(200, 'account', await accountInfo(hub, principal.accountId));
      case 'PUT /api/v1/account/email': {
        // Account settings, like app passwords, are the account password's (or a session's) to change.
        requirePassword(principal);
        const { email } = decodeBody(await readRequest(), encoding, 'setEmail', setEmailSchema);
        await hub.accounts.setEmail(principal.accountId, email === '' ? null : email);
        return reply(200, 'account', await accountInfo(hub, principal.accountId));
      }
      case 'GET /api/v1/conflicts':
        return reply(200, 'conflicts', { conflicts: (await hub.listConflicts(principal.accountId)).map(toConflict) } satisfies ConflictList);
      default: {
        // A mail part, fetched by its token (docs/protocol.md §10.6); app passwords may, as for sync.
        const mailPart = /^GET \/api\/v1\/collections\/([A-Za-z0-9_-]{1,64})\/items\/([^/]{1,256})\/parts\/([^/]{1,256})$/.exec(route);
        if (mailPart) {
          req.resume();
          const [itemId, part] = [pathSegment(mailPart[2] as string, 'item id'), pathSegment(mailPart[3] as string, 'part token')];
          return sendMailPart(req, res, await hub.mail.fetchPart(principal.accountId, mailPart[1] as string, itemId, part));
        }
        const restore = /^POST \/api\/v1\/conflicts\/([A-Za-z0-9_-]{1,64})\/restore$/.exec(route);
        if (restore) return reply(200, 'restored', (await hub.restoreConflict(principal.accountId, restore[1] as string)) satisfies Restored);
        const move = /^POST \/api\/v1\/collections\/([A-Za-z0-9_-]{1,128})\/items\/([A-Za-z0-9_-]{1,128})\/move$/.exec(route);
        if (move) {
          const { device, to } = decodeBody(await readRequest(), encoding, 'moveMessage', moveMessageSchema);
          const point = { accountId: principal.accountId, device: { id: device.id, name: device.name, tokenId: principal.tokenId }, protocol: principal.session ? 'web' : 'native' };
          const serverId = await hub.mail.move(point, move[1] as string, move[2] as string, to);
          return reply(200, 'moved', { collectionId: to, ...(serverId === null ? {} : { serverId }) } satisfies MovedMessage);
        }
        const upstreamRun = /^POST \/api\/v1\/upstreams\/([A-Za-z0-9_-]{1,64})\/sync$/.exec(route);
        if (upstreamRun) {
          req.resume();
          const id = upstreamRun[1] as string;
          const [run] = await hub.upstreams.run(principal.accountId, { upstreamId: id });
          const upstream = (await upstreamList(hub, principal.accountId)).find((u) => u.id === id);
          // Removed while it ran.
          if (!upstream) throw new ProtocolError('notFound', `no upstream ${id}`);
          return reply(200, 'upstreamRun', { ran: run?.ran === true, upstream } satisfies UpstreamRunInfo);
        }
        const upstream = /^DELETE \/api\/v1\/upstreams\/([A-Za-z0-9_-]{1,64})$/.exec(route);
        if (upstream) {
          requirePassword(principal);
          req.resume();
          return reply(200, 'deleted', { id: (await hub.upstreams.remove(principal.accountId, upstream[1] as string)).id });
        }
        const collection = /^(PATCH|DELETE) \/api\/v1\/collections\/([A-Za-z0-9_-]{1,64})$/.exec(route);
        if (collection?.[1] === 'PATCH') {
          const patch = decodeBody(await readRequest(), encoding, 'updateCollection', updateCollectionSchema);
          return reply(200, 'collection', toCollection(await hub.accounts.updateCollection(principal.accountId, collection[2] as string, patch)));
        }
        if (collection?.[1] === 'DELETE') {
          await hub.accounts.deleteCollection(principal.accountId, collection[2] as string);
          return reply(200, 'deleted', { id: collection[2] });
        }
        const device = /^DELETE \/api\/v1\/devices\/([^/]{1,256})$/.exec(route);
        if (device) {
          // Revoking a device revokes its app password: one device's stolen token must not cut off the others.
          requirePassword(principal);
          const id = pathSegment(device[1] as string, 'device id');
          await hub.revokeDevice(principal.accountId, id);
          push.disconnect(principal.accountId, id);
          return reply(200, 'revoked', { id });
        }
        const revoke = /^DELETE \/api\/v1\/tokens\/([A-Za-z0-9]{1,64})$/.exec(route);
        if (revoke) {
          requirePassword(principal);
          if (!(await hub.accounts.revokeToken(principal.accountId, revoke[1] as string))) throw new ProtocolError('notFound', `no token ${revoke[1]}`);
          return reply(200, 'revoked', { id: revoke[1] });
        }
        throw new ProtocolError('notFound', `no route ${route}`);
      }
    }
  } catch (err) {
    // Anything but a ProtocolError reaches the shell, which answers serverError.
    const status = err instanceof ProtocolError ? err.status : 'serverError';
    if (isSync) metrics.nativeExchange(status);
    metrics.nativeError(status);
    if (!(err instanceof ProtocolError)) throw err;
    return send(req, res, httpStatusOf[err.status], mediaTypes[encoding], encodeBody(encoding, 'error', errorBody(err)));
  }
}
