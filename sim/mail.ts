import { Hub } from '../src/hub/hub.js';
import type { MailGateway } from '../src/hub/mail.js';
import type { HubPorts } from '../src/hub/ports.js';
import type { UpstreamAccess } from '../src/hub/upstreams.js';
import type { Store, StoreTx } from '../src/store/store.js';
import { secretKey } from '../src/hub/sealed-secrets.js';
import { ProtocolError } from '../src/protocol/errors.js';
import type { SendMailRequest } from '../src/protocol/mail-send.js';
import type { ServerSyncPoint } from '../src/protocol/server-point.js';
import type { ClientCommand, CollectionResponse } from '../src/protocol/sync.js';
import { imapConnector, imapMailGateway } from '../src/server/upstream-connector.js';
import { child, decodeWbxml, encodeWbxml, text, type WbxmlElement, type WbxmlNode } from '../src/faces/eas/wbxml/codec.js';
import { sqliteDatabases, type SimDatabases } from './database.js';
import { EasMailPhone, mailViewOfTruth, type EasMailLink } from './eas-mail-device.js';
import { SimEasServer, type EasRewrite } from './eas-server.js';
import { SimImapServer, simAttendee, simFlags, simFolders, simFoldersWithTrash, type ImapFaultRates } from './imap-upstream.js';
import { checkMeetings, MeetingLedger, meetingCheckNames, ReplyForgetsKeyHub, TentativeAsAcceptedHub } from './meetings.js';
import { Rng } from './random.js';
import { SimServer } from './server.js';
import { SimSubmission, type SmtpFaultRates } from './smtp-submission.js';
import type { Trace } from './trace.js';
import { FakeClock } from './world.js';
import { wrapPoint } from './wrap-point.js';

/**
 * Mail worlds (`npm run sim -- --mail`): an account whose folders (INBOX, Archive, Sent) come from a
 * simulated IMAP server (imap-upstream.ts) through the real IMAP connector and the real hub and store,
 * which sends through a simulated SMTP submission server (smtp-submission.ts) with the real submission
 * client; devices on the native protocol mark messages read, flag, delete and move them (`hub.mail.move`,
 * the move route's entry) and send mail (`hub.mail.send`) with a client id, sent again with the same id
 * after a lost answer, a 503 or a restart, as the SDK does. Meanwhile the IMAP server's own user does the
 * same, mail arrives, a folder is now and then rebuilt under a new UIDVALIDITY, commands and answers are
 * lost both ways, the servers restart and the hub dies with a message handed over. Half the worlds also
 * have one or two ActiveSync phones (eas-mail-device.ts) that do the same through the real ActiveSync
 * face, in WBXML, with a Trash folder their deletes move messages to; in those worlds meeting invitations
 * arrive too, which the phones answer with MeetingResponse (meetings.ts). After a quiet phase:
 *   - `imap-matches-truth`: each IMAP folder holds the messages the hub's collection for it holds, as many
 *     times, with the same flags (docs/design.md § Mail); and each message is in one folder once, and
 *     somewhere unless it was expunged: none copied or lost on its way from folder to folder;
 *   - `mail-devices-match-truth`: every device and phone holds what the hub holds, in every folder;
 *   - `mail-sent-once`: each client id went out through SMTP at most once, exactly once if its device was
 *     told it was sent, and a message sent is in Sent at most once, exactly once if the hub filed it there
 *     (docs/protocol.md §10.7);
 *   - `meeting-calendar-agrees` and `meeting-replied-once`: the calendar and the organizer's REPLYs agree
 *     with the phones' answers to meetings (meetings.ts).
 * Each has a planted bug it alone catches (`mailPlantedBugs`, `--plant-bug NAME` with `--mail`).
 */

export const mailCheckNames = ['imap-matches-truth', 'mail-devices-match-truth', 'mail-sent-once', ...meetingCheckNames] as const;
export const mailPlantedBugs = {
  'imap-point-drops-expunges': { description: 'the IMAP point leaves out of its reports the messages expunged at the server', caughtBy: ['imap-matches-truth'] },
  'hub-withholds-mail-changes': { description: "the hub's answers to devices leave out the changes of mail items", caughtBy: ['mail-devices-match-truth'] },
  'move-forgets-new-uid': { description: 'a move adds the item to the destination without binding it to its new UID, so the next run adds the message again', caughtBy: ['imap-matches-truth'] },
  'resend-unknown-outcome': { description: 'a send whose outcome is unknown is taken for never sent, and handed over again', caughtBy: ['mail-sent-once'] },
  'eas-drops-read-changes': { description: "the ActiveSync face drops Read from a phone's Change of a message (answering success)", caughtBy: ['mail-devices-match-truth'] },
  'meeting-tentative-as-accepted': { description: "MeetingResponse's calendar write of a tentative answer says PARTSTAT=ACCEPTED", caughtBy: ['meeting-calendar-agrees'] },
  'meeting-reply-forgets-key': { description: "MeetingResponse's reply to the organizer is sent under a new client id each time, so a retried request replies again", caughtBy: ['meeting-replied-once'] },
} as const;
export type MailPlantedBug = keyof typeof mailPlantedBugs;

export interface MailSeedReport {
  seed: number;
  failures: string[];
  stats: {
    devices: number;
    rounds: number;
    exchanges: number;
    runs: number;
    runsFailed: number;
    restarts: number;
    moves: number;
    sends: number;
    phones: number;
    eas: EasMailPhone['counts'];
    meetings: MeetingLedger['counts'];
    imap: SimImapServer['counts'];
    smtp: SimSubmission['counts'];
  };
}

const simKey = secretKey(Buffer.alloc(32, 9));
const sender = 'ann@example.org';

/** What a device holds of one folder, and what it did there that it has not seen answered. */
class FolderReplica {
  syncKey = 0;
  readonly items = new Map<string, string>();
  /** Sent again, with the same key, until answered. */
  pending: ClientCommand[] = [];
  pendingKey: number | undefined;
}

/** A device on the native protocol that syncs every folder of the account, moves messages and sends mail. */
class MailDevice {
  readonly folders: Map<string, FolderReplica>;
  /** A move asked and not answered: asked again until it is. */
  move: { from: string; itemId: string; to: string } | undefined;
  /** A send not answered: sent again, with the same client id, until it is. */
  send: SendMailRequest | undefined;
  /** What it was told of each of its sends: sent, refused (then sent again, or given up), or that its outcome is unknown. */
  readonly sends = new Map<string, 'sending' | 'sent' | 'unknown' | 'refused'>();
  private sendCount = 0;

  constructor(
    readonly id: string,
    collections: readonly string[],
    private readonly rng: Rng,
    private readonly trace: Trace | undefined,
  ) {
    this.folders = new Map(collections.map((c) => [c, new FolderReplica()]));
  }

  /** After a refusal: give the send up (else it is sent again, with the same client id). */
  giveUp(): boolean {
    return this.rng.chance(0.5);
  }

  private busy(): boolean {
    return this.move !== undefined || this.send !== undefined || [...this.folders.values()].some((f) => f.pending.length > 0);
  }

  /** Its user sends, moves, marks, flags or deletes a message it holds (one thing at a time). */
  act(folderIds: { inbox: string; archive: string }): void {
    if (this.busy()) return;
    const roll = this.rng.float();
    if (roll < 0.12) {
      const clientId = `${this.id}-send-${++this.sendCount}`;
      this.send = { clientId, from: { address: sender }, to: [{ address: `friend${this.rng.int(1, 3)}@example.net` }], subject: `Note ${clientId}`, text: `Sent by ${this.id}, ${this.sendCount}.\n` };
      this.sends.set(clientId, 'sending');
      this.trace?.(`${this.id} user: sends ${clientId}`);
      return;
    }
    const held = [...this.folders].flatMap(([collectionId, f]) => [...f.items.keys()].sort().map((serverId) => ({ collectionId, serverId, data: f.items.get(serverId) as string })));
    if (held.length === 0) return;
    const { collectionId, serverId, data } = held[this.rng.int(0, held.length - 1)] as (typeof held)[number];
    const folder = this.folders.get(collectionId) as FolderReplica;
    if (roll < 0.3) {
      const to = collectionId === folderIds.inbox ? folderIds.archive : folderIds.inbox;
      this.move = { from: collectionId, itemId: serverId, to };
      this.trace?.(`${this.id} user: moves ${messageIdOf(data)} to ${to}`);
      return;
    }
    if (roll < 0.42) {
      folder.pending = [{ op: 'delete', serverId }];
      this.trace?.(`${this.id} user: deletes ${messageIdOf(data)}`);
      return;
    }
    const item = JSON.parse(data) as { flags: string[] };
    const flag = simFlags[this.rng.int(0, simFlags.length - 1)] as string;
    const flags = item.flags.includes(flag) ? item.flags.filter((f) => f !== flag) : [...item.flags, flag].sort();
    folder.pending = [{ op: 'change', serverId, data: JSON.stringify({ ...item, flags }) }];
    this.trace?.(`${this.id} user: ${messageIdOf(data)} flags ${flags.join(' ') || '(none)'}`);
  }

  request(collectionId: string) {
    const folder = this.folders.get(collectionId) as FolderReplica;
    folder.pendingKey ??= folder.syncKey;
    return { version: 1 as const, device: { id: this.id }, collections: [{ collectionId, syncKey: folder.pendingKey, commands: folder.pending }] };
  }

  /** The answer to its sync request of one folder. */
  receive(collectionId: string, response: CollectionResponse): void {
    const folder = this.folders.get(collectionId) as FolderReplica;
    folder.pendingKey = undefined;
    if (response.status === 'invalidSyncKey') {
      folder.syncKey = 0;
      folder.items.clear();
      folder.pending = [];
      return;
    }
    if (response.status !== 'ok') throw new Error(`${this.id}: sync answered ${response.status} ${response.message ?? ''}`);
    const sent = folder.pending;
    folder.pending = [];
    for (const result of response.results) {
      const command = sent[result.index];
      if (!command || command.op === 'add' || command.op === 'fetch') continue;
      if (command.op === 'delete' && result.status === 'ok') folder.items.delete(command.serverId);
      else if (command.op === 'change' && result.status === 'ok') folder.items.set(command.serverId, command.data);
      // Gone meanwhile: a message is not added again by a device.
      else if (command.op === 'change' && result.status === 'notFound') folder.items.delete(command.serverId);
    }
    for (const c of response.commands) {
      if (c.op === 'delete') folder.items.delete(c.serverId);
      else folder.items.set(c.serverId, c.data);
    }
    folder.syncKey = response.syncKey;
  }

  /** The answer to its move, applied as the SDK does (sdk/replica.ts recordMoved): the item leaves; the destination's sync brings it. */
  moved(): void {
    const move = this.move;
    if (!move) return;
    this.move = undefined;
    this.folders.get(move.from)?.items.delete(move.itemId);
  }
}

function messageIdOf(data: string): string {
  return (JSON.parse(data) as { messageId: string | null }).messageId ?? '(none)';
}

/** `easPhones`: ActiveSync phones in every world (else the seed decides: none in half the worlds, one or two in the others). */
export async function runMailSeed(seed: number, options: { databases?: SimDatabases; trace?: Trace; plantBug?: MailPlantedBug; easPhones?: number } = {}): Promise<MailSeedReport> {
  const trace = options.trace;
  const root = new Rng(seed);
  const [shapeRng, imapRng, deviceRng, scheduleRng, idRng, smtpRng] = [root.fork(), root.fork(), root.fork(), root.fork(), root.fork(), root.fork()];
  // Forked last, so worlds without phones run as they did before phones came.
  const easRng = root.fork();
  const phoneCount = options.easPhones ?? (easRng.chance(0.5) ? easRng.int(1, 2) : 0);
  // Meeting invitations, for the phones to answer: only in worlds with phones, from a fork of their own.
  const meetRng = root.fork();
  const rates: ImapFaultRates = {
    deliver: 0.2 + shapeRng.float() * 0.4,
    flag: shapeRng.float() * 0.4,
    expunge: shapeRng.float() * 0.15,
    move: shapeRng.float() * 0.15,
    rebuild: shapeRng.float() * 0.02,
    lostCommand: shapeRng.float() * 0.04,
    lostAnswer: shapeRng.float() * 0.05,
  };
  const smtpRates: SmtpFaultRates = { unreachable: shapeRng.float() * 0.1, refuse: shapeRng.float() * 0.1, lostAnswer: shapeRng.float() * 0.15, dies: shapeRng.float() * 0.1 };
  const shape = {
    devices: shapeRng.int(1, 3),
    rounds: shapeRng.int(10, 30),
    dropReply: shapeRng.float() * 0.2,
    restart: shapeRng.float() * 0.04,
    upstreamLast: shapeRng.chance(0.5),
    uidPlus: shapeRng.chance(0.8),
    sameUidValidity: shapeRng.chance(0.3),
    // Small reports in half the worlds, so a run takes many rounds and a report's leftovers meet the world's changes.
    reportItemsMax: shapeRng.chance(0.5) ? shapeRng.int(1, 4) : undefined,
  };
  const imap = new SimImapServer(imapRng, rates, trace, shape.uidPlus, shape.sameUidValidity, phoneCount > 0 ? simFoldersWithTrash : simFolders);
  const paths = [...imap.folders.keys()];
  const smtp = new SimSubmission(smtpRng, smtpRates, trace);
  for (let i = shapeRng.int(0, 6); i > 0; i--) imap.deliver();
  if (phoneCount > 0) for (let i = meetRng.int(1, 3); i > 0; i--) imap.deliverInvitation();
  const meetings = new MeetingLedger(trace);
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const ports: HubPorts = { clock, random: { id: () => idRng.id() }, logger: { info: () => undefined, warn: () => undefined, debug: () => undefined } };
  const locate = async () => '127.0.0.1';
  const real = imapConnector(locate, (o) => imap.open(o), shape.reportItemsMax);
  // The server is looked up at each call: a process that died reaches no mail server any more (it restarts once the call is over).
  let server: SimServer | undefined;
  const gateway = aliveOnly(imapMailGateway(locate, (o) => imap.open(o), () => smtp.open()), () => server?.dead === true);
  const access: UpstreamAccess = {
    connectors: {
      imap: {
        ...real,
        open: (u, mappings) => {
          const session = real.open(u, mappings);
          const points = options.plantBug === 'imap-point-drops-expunges' ? session.points.map(dropExpunges) : session.points;
          return { ...session, points: trace ? points.map((p) => traced(p, trace)) : points };
        },
      },
    },
    mail: gateway,
    keys: () => [simKey],
    sealingKey: () => () => simKey,
    intervalMs: 0,
  };
  const database = await (options.databases ?? sqliteDatabases).forSeed();
  const makeHub = (store: Store, p: HubPorts, a?: UpstreamAccess) => {
    if (options.plantBug === 'hub-withholds-mail-changes') return new WithholdingHub(store, p, a);
    if (options.plantBug === 'move-forgets-new-uid') return new Hub(unboundMoves(store), p, a);
    if (options.plantBug === 'resend-unknown-outcome') return new Hub(forgetsUnknownSends(store), p, a);
    if (options.plantBug === 'meeting-tentative-as-accepted') return new TentativeAsAcceptedHub(store, p, a);
    if (options.plantBug === 'meeting-reply-forgets-key') return new ReplyForgetsKeyHub(store, p, a);
    return new Hub(store, p, a);
  };
  server = await SimServer.start(ports, makeHub, () => undefined, database, access);
  const live = server;
  smtp.onDeath = () => live.dies();
  const eas = { syncs: 0, moves: 0, movesReplayed: 0, filedUnderDstMsgId: 0, sends: 0, meetingResponses: 0, lost: 0 };
  const stats: MailSeedReport['stats'] = { devices: shape.devices, rounds: shape.rounds, exchanges: 0, runs: 0, runsFailed: 0, restarts: 0, moves: 0, sends: 0, phones: phoneCount, eas, meetings: meetings.counts, imap: imap.counts, smtp: smtp.counts };
  try {
    // The user's address, which MeetingResponse finds among a meeting's attendees.
    const account = await live.hub.accounts.create('sim', 'no-password', simAttendee);
    const discovered = paths.map((path) => ({ url: `imap://imap.sim/${path}`, type: 'mailbox' as const, displayName: path, kinds: ['mail'] }));
    const view = await live.hub.upstreams.add(
      account.id,
      { kind: 'imap', url: 'imap://imap.sim', submissionUrl: 'smtp://smtp.sim', username: 'ann', password: 'sim-password' },
      { connector: { discover: async () => discovered }, key: () => simKey },
    );
    const collectionOf = (path: string) => view.collections.find((c) => c.url === `imap://imap.sim/${path}`)?.collectionId as string;
    const folderIds = { inbox: collectionOf('INBOX'), archive: collectionOf('Archive') };
    const pathOf = new Map(paths.map((path) => [collectionOf(path), path]));
    const collections = [...pathOf.keys()];
    const devices = Array.from({ length: shape.devices }, (_, i) => new MailDevice(`d${i}`, collections, deviceRng.fork(), trace));
    for (const device of devices) {
      for (const c of collections) await live.hub.sync(account.id, 'native', device.request(c)).then((r) => device.receive(c, r.collections[0] as CollectionResponse));
    }
    const easFace = new SimEasServer(live, ports, { accountId: account.id, accountName: account.name, epoch: account.credentialEpoch }, options.plantBug === 'eas-drops-read-changes' ? dropsReadChanges : undefined);
    /** A phone's request through the face: its answer lost now and then, or the process died under it (asked again either way). */
    const link: EasMailLink = async (phone, command, body, faults) => {
      stats.exchanges++;
      const what = `${phone.id} ${command}${command === 'Sync' ? ` ${describeSync(body, pathOf)}` : ''}`;
      let reply;
      try {
        reply = await easFace.serve({ deviceId: phone.options.deviceId, version: phone.options.version, command }, encodeWbxml(body));
      } catch (err) {
        if (!live.dead) throw err;
      }
      if (live.dead) {
        trace?.(`${what}: the server died under it`);
        await live.afterDeath();
        stats.restarts++;
        return undefined;
      }
      if (!reply) return undefined;
      const answer = reply.body.length === 0 ? 'empty' : decodeWbxml(reply.body);
      const lost = faults && easRng.chance(shape.dropReply);
      trace?.(`${what} -> HTTP ${reply.status} ${answer === 'empty' ? '(empty)' : describeEasAnswer(answer)}${lost ? ' (the answer is lost)' : ''}`);
      if (reply.status === 503) return undefined;
      if (reply.status !== 200) throw new Error(`${what} answered HTTP ${reply.status}: ${Buffer.from(reply.body).toString('utf8')}`);
      return lost ? undefined : answer;
    };
    const phones = Array.from(
      { length: phoneCount },
      (_, i) => new EasMailPhone({ deviceId: `phone${i}`, version: easRng.chance(0.5) ? '14.1' : '16.1', windowSize: easRng.int(1, 6), deletesDelete: easRng.chance(0.2), attemptsMax: easRng.int(1, 3), meetings }, easRng.fork(), link, trace),
    );
    const syncPhone = async (phone: EasMailPhone, faults: boolean) => {
      if (phone.folders.size === 0 || (faults && easRng.chance(0.05))) await phone.folderSync(faults);
      // A phone syncs some folders at a time (as it is pinged), so a move's destination may wait.
      for (const folderId of [...phone.folders.keys()]) if (!faults || easRng.chance(0.7)) await phone.syncFolder(folderId, faults);
    };
    for (const phone of phones) await syncPhone(phone, false);

    // In some worlds the devices come before the upstream in priority: a device's edit then beats the upstream's, but never its deletes.
    if (shape.upstreamLast) await live.hub.setDevicePriority(account.id, devices.map((d) => d.id));

    const run = async () => {
      stats.runs++;
      const [done] = await live.hub.upstreams.run(account.id);
      if (done?.error) {
        stats.runsFailed++;
        trace?.(`  the upstream run failed: ${done.error}`);
      }
    };
    const exchange = async (device: MailDevice, collectionId: string, faults: boolean) => {
      stats.exchanges++;
      const request = device.request(collectionId);
      const response = await live.hub.sync(account.id, 'native', request);
      const answer = response.collections[0] as CollectionResponse;
      const lost = faults && deviceRng.chance(shape.dropReply);
      trace?.(`${device.id} ${pathOf.get(collectionId)} key ${request.collections[0]?.syncKey} [${request.collections[0]?.commands.map((c) => c.op).join(' ')}] -> ${answer.status} key ${answer.syncKey}, ${answer.commands.length} changes${lost ? ' (the answer is lost)' : ''}`);
      if (!lost) device.receive(collectionId, answer);
      return answer;
    };
    /** A call into the hub a device makes beside syncing: its answer, lost now and then; a failure the device reads (ProtocolError), or the process died under it. */
    const call = async <T>(device: MailDevice, what: string, faults: boolean, work: () => Promise<T>): Promise<{ answer: T } | { error: ProtocolError } | undefined> => {
      try {
        const answer = await work();
        if (faults && deviceRng.chance(shape.dropReply)) {
          trace?.(`${device.id} ${what}: the answer is lost`);
          return undefined;
        }
        return { answer };
      } catch (err) {
        if (live.dead) {
          trace?.(`${device.id} ${what}: the server died under it (${(err as Error).message})`);
          await live.afterDeath();
          stats.restarts++;
          return undefined;
        }
        if (err instanceof ProtocolError) return { error: err };
        throw err;
      }
    };
    const moveOf = async (device: MailDevice, faults: boolean) => {
      const move = device.move;
      if (!move) return;
      stats.moves++;
      const point = { accountId: account.id, device: { id: device.id }, protocol: 'native' };
      const done = await call(device, `move to ${pathOf.get(move.to)}`, faults, () => live.hub.mail.move(point, move.from, move.itemId, move.to));
      if (!done) return;
      if ('answer' in done) {
        trace?.(`${device.id} moved ${move.itemId} to ${pathOf.get(move.to)} as ${done.answer ?? '(no id)'}`);
        device.moved();
      } else if (done.error.status === 'notFound') {
        // Gone meanwhile, or moved by the request whose answer was lost: the syncs tell.
        trace?.(`${device.id} move of ${move.itemId}: ${done.error.message}`);
        device.move = undefined;
      } else if (done.error.status !== 'unavailable') throw done.error;
      else trace?.(`${device.id} move of ${move.itemId}: ${done.error.message} (asked again later)`);
    };
    const sendOf = async (device: MailDevice, faults: boolean) => {
      const request = device.send;
      if (!request) return;
      stats.sends++;
      const done = await call(device, `send ${request.clientId}`, faults, () => live.hub.mail.send(account.id, request));
      if (!done) return;
      const settle = (outcome: 'sent' | 'unknown' | 'refused') => {
        device.sends.set(request.clientId, outcome);
        device.send = undefined;
      };
      if ('answer' in done) {
        trace?.(`${device.id} sent ${request.clientId}${done.answer.replayed ? ' (replayed)' : ''}${done.answer.sentFolder ? `, filed in ${done.answer.sentFolder}` : ''}`);
        return settle('sent');
      }
      const { status, message, extra } = done.error;
      trace?.(`${device.id} send ${request.clientId}: ${status} ${message}`);
      // Its outcome unknown, and not found in Sent: not sent again under this client id.
      if (status === 'conflict' && extra?.sendState === 'unknown') return settle('unknown');
      // Refused by the submission server: sent again with the same id, or given up.
      if (status === 'upstreamFailed' && extra?.upstreamError === 'refused' && device.giveUp()) return settle('refused');
      if (status !== 'unavailable' && status !== 'upstreamFailed') throw done.error;
    };

    for (let round = 0; round < shape.rounds; round++) {
      clock.advance(60_000);
      imap.act();
      if (phones.length > 0 && meetRng.chance(0.15)) imap.deliverInvitation();
      for (const device of devices) {
        if (!scheduleRng.chance(0.6)) continue;
        device.act(folderIds);
        await moveOf(device, true);
        await sendOf(device, true);
        for (const c of collections) await exchange(device, c, true);
      }
      for (const phone of phones) {
        if (!easRng.chance(0.6)) continue;
        phone.act();
        await phone.moveOf(true);
        await phone.sendOf(true);
        await phone.meetingResponseOf(true);
        await syncPhone(phone, true);
      }
      if (scheduleRng.chance(0.5)) await run();
      if (scheduleRng.chance(rates.lostCommand)) imap.restart();
      if (scheduleRng.chance(shape.restart)) {
        trace?.('the server restarts');
        await live.restart();
        stats.restarts++;
      }
    }

    // Quiet: no more user actions or faults; moves and sends asked again, runs and syncs until nothing moves.
    trace?.('quiet phase');
    rates.lostCommand = 0;
    rates.lostAnswer = 0;
    Object.assign(smtpRates, { unreachable: 0, refuse: 0, lostAnswer: 0, dies: 0 });
    for (let pass = 0; pass < 6; pass++) {
      for (const device of devices) {
        await moveOf(device, false);
        await sendOf(device, false);
      }
      for (const phone of phones) {
        await phone.moveOf(false);
        await phone.sendOf(false);
        await phone.meetingResponseOf(false);
      }
      await run();
      for (const phone of phones) {
        await phone.folderSync(false);
        await syncPhone(phone, false);
      }
      for (const device of devices) {
        for (const c of collections) {
          for (let i = 0; i < 50; i++) {
            const answer = await exchange(device, c, false);
            if (!answer.moreAvailable && device.folders.get(c)?.pending.length === 0) break;
          }
        }
      }
    }

    const failures: string[] = [];
    const there = imap.contents();
    const held = new Map<string, Map<string, string>>();
    for (const c of collections) held.set(c, (await live.readTruth(account.id, [c], [])).items);

    // imap-matches-truth: each folder as the hub's collection for it, copy by copy, flags included; and
    // each message in one folder once, none gone that nobody expunged: none copied or lost by a move.
    const atImap = [...there].flatMap(([path, ms]) => ms.map((m) => ({ path, ...m })));
    const inHub = [...held].flatMap(([c, items]) => [...items.values()].map((data) => ({ path: pathOf.get(c) as string, ...(JSON.parse(data) as { messageId: string; flags: string[] }) })));
    const byMessage = (all: Array<{ path: string; messageId: string; flags: string[] }>) => {
      const found = new Map<string, Array<{ path: string; flags: string }>>();
      for (const m of all) found.set(m.messageId, [...(found.get(m.messageId) ?? []), { path: m.path, flags: m.flags.join(' ') }]);
      return found;
    };
    const [imapCopies, hubCopies] = [byMessage(atImap), byMessage(inHub)];
    const describe = (copies: Array<{ path: string; flags: string }> | undefined) => (copies ?? []).map((c) => `${c.path} [${c.flags}]`).join(', ') || 'nowhere';
    for (const messageId of new Set([...imapCopies.keys(), ...hubCopies.keys()])) {
      const [atServer, here] = [describe(imapCopies.get(messageId)), describe(hubCopies.get(messageId))];
      if (atServer !== here) failures.push(`imap-matches-truth: ${messageId} at IMAP: ${atServer}; in the hub: ${here}`);
      else if ((imapCopies.get(messageId)?.length ?? 0) > 1) failures.push(`imap-matches-truth: ${messageId} is more than once at IMAP and in the hub: ${atServer}`);
    }
    for (const messageId of imap.everHeld) {
      if (!imap.expungedIds.has(messageId) && !imapCopies.has(messageId)) failures.push(`imap-matches-truth: ${messageId} is in no folder at IMAP, and nobody expunged it`);
    }

    // mail-sent-once: each client id handed over at most once, once if its device was told it went; its copy filed in Sent at most once, once if the hub says so.
    const sends = new Map((await live.readMailSends(account.id)).map((r) => [r.clientId, r]));
    for (const device of [...devices, ...phones]) {
      for (const [clientId, outcome] of device.sends) {
        const row = sends.get(clientId);
        const delivered = row === undefined ? 0 : smtp.accepted.filter((m) => m.messageId === row.messageId).length;
        if (delivered > 1) failures.push(`mail-sent-once: ${clientId} went out ${delivered} times`);
        if (outcome === 'sent' && delivered !== 1) failures.push(`mail-sent-once: ${device.id} was told ${clientId} was sent, and it went out ${delivered} times`);
        if (outcome === 'sending') failures.push(`mail-sent-once: ${device.id} never heard how ${clientId} went`);
        // Filed: appended to Sent (a device or the IMAP user may have moved or deleted it since).
        const filed = row === undefined ? 0 : (imap.appended.get(row.messageId) ?? 0);
        if (filed > 1 || (row?.sentFolder != null && filed !== 1)) failures.push(`mail-sent-once: ${clientId} was filed ${filed} times in Sent${row?.sentFolder != null ? ', which the hub said it filed it in' : ''}`);
        if (filed > 0 && delivered === 0) failures.push(`mail-sent-once: ${clientId} was filed in Sent, and never went out`);
      }
    }

    // mail-devices-match-truth
    for (const device of devices) {
      for (const [c, items] of held) {
        const has = [...(device.folders.get(c) as FolderReplica).items].sort(([a], [b]) => a.localeCompare(b));
        const want = [...items].sort(([a], [b]) => a.localeCompare(b));
        if (JSON.stringify(has) === JSON.stringify(want)) continue;
        const differ = [...new Set([...has, ...want].map(([id]) => id))].filter((id) => device.folders.get(c)?.items.get(id) !== items.get(id));
        failures.push(`mail-devices-match-truth: ${device.id} holds ${has.length} messages in ${pathOf.get(c)} unlike the hub's ${want.length} (${differ.join(', ')} differ)`);
      }
    }
    for (const phone of phones) {
      for (const [c, items] of held) {
        const has = phone.held(c);
        const want = new Map([...items].map(([id, data]) => [id, mailViewOfTruth(data, phone.options.version)]));
        const differ = [...new Set([...has.keys(), ...want.keys()])].sort().filter((id) => has.get(id) !== want.get(id));
        if (differ.length > 0) failures.push(`mail-devices-match-truth: ${phone.id} holds ${has.size} messages in ${pathOf.get(c)} unlike the hub's ${want.size} (${differ.map((id) => `${id}: ${has.get(id) ?? 'absent'} / hub ${want.get(id) ?? 'absent'}`).join('; ')})`);
      }
      for (const [k, v] of Object.entries(phone.counts)) eas[k as keyof typeof eas] += v;
    }

    // meeting-calendar-agrees, meeting-replied-once: the default calendar (MeetingResponse's: the account's first) and the REPLYs sent.
    const calendar = (await live.hub.accounts.listCollections(account.id)).find((c) => c.kind === 'events');
    const events = calendar ? (await live.readTruth(account.id, [calendar.id], [])).items.values() : [];
    failures.push(...checkMeetings(meetings, events, smtp.accepted));
    return { seed, failures, stats };
  } finally {
    await live.close();
  }
}

/** A phone's Sync request in a trace line: folder, key and commands. */
function describeSync(body: WbxmlElement, pathOf: ReadonlyMap<string, string>): string {
  const c = child(child(body, 'Collections'), 'Collection');
  const commands = (child(c, 'Commands')?.children ?? []).flatMap((x) => (typeof x === 'object' && !(x instanceof Uint8Array) ? [`${x.name} ${text(child(x, 'ServerId'))}`] : []));
  const id = text(child(c, 'CollectionId')) ?? '';
  return `${pathOf.get(id) ?? id} key ${text(child(c, 'SyncKey'))} [${commands.join('; ')}]`;
}

/** An answer in a trace line: its statuses, and each change or response by ServerId. */
function describeEasAnswer(body: WbxmlElement): string {
  const c = child(child(body, 'Collections'), 'Collection');
  if (!c) return `${body.name} Status ${text(child(body, 'Status')) ?? text(child(child(body, 'Response'), 'Status')) ?? text(child(child(body, 'Result'), 'Status'))}${child(child(body, 'Response'), 'DstMsgId') ? ` DstMsgId ${text(child(child(body, 'Response'), 'DstMsgId'))}` : ''}`;
  const list = (e: WbxmlElement | undefined) => (e?.children ?? []).flatMap((x) => (typeof x === 'object' && !(x instanceof Uint8Array) ? [`${x.name} ${text(child(x, 'ServerId'))}${child(x, 'Status') ? ` ${text(child(x, 'Status'))}` : ''}`] : []));
  return `Status ${text(child(c, 'Status'))} key ${text(child(c, 'SyncKey'))}${child(c, 'MoreAvailable') ? ' (more)' : ''} changes [${list(child(c, 'Commands')).join('; ')}] results [${list(child(c, 'Responses')).join('; ')}]`;
}

/** The planted bug: the face never sees Read in a phone's Change of a message, and answers it as done. */
const dropsReadChanges: EasRewrite = (line, body) => {
  const strip = (e: WbxmlElement): WbxmlElement => ({ ...e, children: e.children.flatMap((x): WbxmlNode[] => (typeof x === 'object' && !(x instanceof Uint8Array) ? (x.ns === 'Email' && x.name === 'Read' ? [] : [strip(x)]) : [x])) });
  return { line, body: line.command === 'Sync' && body ? strip(body) : body };
};

/** The gateway of a process that may have died in the call under way: a dead process reaches no mail server. */
function aliveOnly(gateway: MailGateway, dead: () => boolean): MailGateway {
  const check = () => {
    if (dead()) throw new ProtocolError('unavailable', 'the server process died');
  };
  return {
    fetchPart: (...a) => (check(), gateway.fetchPart(...a)),
    move: (...a) => (check(), gateway.move(...a)),
    submit: (...a) => (check(), gateway.submit(...a)),
    fileInSent: (...a) => (check(), gateway.fileInSent(...a)),
    findInSent: (...a) => (check(), gateway.findInSent(...a)),
    search: (...a) => (check(), gateway.search(...a)),
    fileDraft: (...a) => (check(), gateway.fileDraft(...a)),
    expunge: (...a) => (check(), gateway.expunge(...a)),
  };
}

/** The point, each report and apply told in the trace. */
function traced(point: ServerSyncPoint, trace: Trace): ServerSyncPoint {
  const describe = (c: ClientCommand) => (c.op === 'delete' ? `delete ${c.serverId}` : c.op === 'add' ? `add ${messageIdOf(c.data)}` : c.op === 'change' ? `change ${c.serverId} ${messageIdOf(c.data)} [${(JSON.parse(c.data) as { flags: string[] }).flags.join(' ')}]` : c.op);
  return wrapPoint(point, {
    async report(memory, cursor) {
      const report = await point.report(memory, cursor);
      trace(`point ${point.collectionId} reports from ${cursor}: ${report.commands.map(describe).join('; ')}${report.known.length > 0 ? ` (${report.known.length} known)` : ''} -> cursor ${report.cursor}`);
      return report;
    },
    async apply(outcome, memory) {
      trace(`point answered: results [${outcome.results.map((r) => `${r.op} ${r.status} ${r.serverId ?? ''}`).join('; ')}] actions [${outcome.commands.map((c) => (c.op === 'delete' ? `delete ${c.serverId}` : `${c.op} ${c.serverId} [${(JSON.parse(c.data) as { flags: string[] }).flags.join(' ')}]`)).join('; ')}]`);
      const applied = await point.apply(outcome, memory);
      trace(`point applied: ${applied.acknowledged ? 'acknowledged' : 'not acknowledged'}, records ${applied.records.map((r) => `${r.serverId}@${r.remoteId}:${r.remoteEtag}`).join(' ')}, forgotten ${applied.forgotten.join(' ')}`);
      return applied;
    },
  });
}

/** The planted bug of a hub whose answers to devices leave out changes. */
class WithholdingHub extends Hub {
  override async sync(...args: Parameters<Hub['sync']>): ReturnType<Hub['sync']> {
    const response = await super.sync(...args);
    return { ...response, collections: response.collections.map((c) => ({ ...c, commands: c.commands.filter((command) => command.op !== 'change') })) };
  }
}

/** The planted bug: reports that leave out what was expunged at the IMAP server (delete commands). */
function dropExpunges(point: ServerSyncPoint): ServerSyncPoint {
  return wrapPoint(point, {
    async report(memory, cursor) {
      const report = await point.report(memory, cursor);
      const keep = report.commands.map((c) => c.op !== 'delete');
      return { ...report, commands: report.commands.filter((_, i) => keep[i]), remotes: report.remotes.filter((_, i) => keep[i]) };
    },
  });
}

/** `store`, its transactions' methods replaced by `over` (a planted bug in what the hub is told or what it writes). */
function storeWith(store: Store, over: (tx: StoreTx) => Partial<StoreTx>): Store {
  return {
    transaction: (fn) =>
      store.transaction((tx) => {
        const replaced = over(tx);
        return fn(new Proxy(tx, { get: (target, property, receiver) => (Object.hasOwn(replaced, property) ? replaced[property as keyof StoreTx] : Reflect.get(target, property, receiver)) }));
      }),
    observeCommits: (observer) => store.observeCommits(observer),
    tryExclusive: (name, fn) => store.tryExclusive(name, fn),
    close: () => store.close(),
  };
}

/**
 * The planted bug: a move's item in the destination is not bound to the message's new UID (the record
 * a move writes is the only one written for an item that has none, its remote version unknown), so the
 * destination's next run takes the message for new mail.
 */
function unboundMoves(store: Store): Store {
  return storeWith(store, (tx) => ({
    async putPointRecords(accountId, deviceId, collectionId, records) {
      const kept = [];
      for (const record of records) {
        if (record.remoteEtag === null && (await tx.pointRecordsByServer(accountId, deviceId, collectionId, [record.serverId])).length === 0) continue;
        kept.push(record);
      }
      return tx.putPointRecords(accountId, deviceId, collectionId, kept);
    },
  }));
}

/** The planted bug: a send recorded as under way (its outcome unknown) reads as never begun, so it is handed over again. */
function forgetsUnknownSends(store: Store): Store {
  return storeWith(store, (tx) => ({
    async getMailSend(accountId, clientId) {
      const row = await tx.getMailSend(accountId, clientId);
      return row?.state === 'sending' ? undefined : row;
    },
  }));
}
