import { emailMapper } from '../src/faces/eas/mapping/email.js';
import { child, children, el, text, type WbxmlElement } from '../src/faces/eas/wbxml/codec.js';
import type { MeetingLedger } from './meetings.js';
import type { Rng } from './random.js';
import type { Trace } from './trace.js';

/**
 * A scripted ActiveSync mail phone in mail worlds (sim/mail.ts), beside the native devices: it speaks
 * WBXML to the real ActiveSync face (eas-server.ts) as a phone's built-in Exchange account does for mail
 * (docs/eas.md § Mail, § Sending and moving mail):
 *   - FolderSync, then Sync of each mail folder with a small WindowSize (MoreAvailable pages); its user's
 *     Changes of Read and Flag, and Deletes, with DeletesAsMoves left out (a move to Deleted Items) or, on
 *     some phones, 0 (a delete); Adds, SoftDeletes, Changes and Deletes from the server;
 *   - MoveItems between Inbox and Archive: on Status 3 the message leaves the source and is filed in the
 *     destination under DstMsgId at once, as phones do; Status 1 (gone from the source: moved meanwhile,
 *     or by this same move whose answer was lost) leaves it to the next Syncs; Status 5 is asked again;
 *   - SendMail with a ClientId, sent again with the same ClientId after a lost answer or a Status 111,
 *     until it is answered; a Status 120 (refused) is sent again or given up;
 *   - MeetingResponse to a meeting request it holds (docs/eas.md § Meeting invitations): accept, tentative
 *     or decline, now and then again with the same or another answer; on 16.1 often with SendResponse
 *     (and on 14.1 now and then, which the server must ignore before 16.0); sent again as it was after a
 *     lost answer or a Status 3, until it is answered. What it was told goes to the world's MeetingLedger.
 * A request whose answer was lost is sent again byte for byte: a Sync with the same SyncKey and commands
 * (MS-ASCMD 2.2.3.166.4: the server answers a repeated key as it did the first time), at once or at the
 * phone's next sync of that folder.
 *
 * The phone keeps messages as the few fields the checks compare (`mailView`): subject, Read, Flag,
 * LastVerbExecuted, Categories and the meeting a meeting request is of, for its copy and for the hub's item
 * converted by the email mapper alike.
 */

/** FolderSync types of mail folders (MS-ASCMD 2.2.3.186.3): Inbox, Drafts, Deleted Items, Sent Items, Outbox, user mail. */
const mailTypes = new Set([2, 3, 4, 5, 6, 12]);
const inboxType = 2;

const as = (name: string, ...kids: Array<WbxmlElement | string | undefined | false>) => el('AirSync', name, ...kids);
const asb = (name: string, ...kids: Array<WbxmlElement | string | undefined | false>) => el('AirSyncBase', name, ...kids);
const em = (name: string, ...kids: Array<WbxmlElement | string | undefined | false>) => el('Email', name, ...kids);
const fh = (name: string, ...kids: Array<WbxmlElement | string | undefined | false>) => el('FolderHierarchy', name, ...kids);
const mv = (name: string, ...kids: Array<WbxmlElement | string | undefined | false>) => el('Move', name, ...kids);
const cm = (name: string, ...kids: Array<WbxmlElement | Uint8Array | string | undefined | false>) => el('ComposeMail', name, ...kids);
const mr = (name: string, ...kids: Array<WbxmlElement | string | undefined | false>) => el('MeetingResponse', name, ...kids);

const elements = (e: WbxmlElement | undefined) => (e?.children ?? []).filter((c): c is WbxmlElement => typeof c === 'object' && !(c instanceof Uint8Array));

interface PhoneMessage {
  subject: string;
  read: boolean;
  flagged: boolean;
  verb: string;
  categories: string[];
  /** A meeting request's meeting UID; '' for any other message. */
  meeting: string;
}

/** What the checks compare of a message. */
const viewOf = (m: PhoneMessage) => `${m.subject} | read ${m.read ? 1 : 0} | flag ${m.flagged ? 1 : 0} | verb ${m.verb || '-'} | categories ${m.categories.join(',') || '-'} | meeting ${m.meeting || '-'}`;

/** GlobalObjId's marker of an id made from an iCalendar UID (MS-ASEMAIL 2.2.2.37), which a phone reads the UID after. */
const vcalUid = Buffer.from('vCal-Uid\x01\x00\x00\x00', 'latin1');

/** The meeting a meeting request is of: Calendar UID in 16.x, read out of the GlobalObjId before. */
function meetingUidOf(data: WbxmlElement): string {
  if (text(child(data, 'MessageClass', 'Email')) !== 'IPM.Schedule.Meeting.Request') return '';
  const request = child(data, 'MeetingRequest', 'Email');
  const uid = text(child(request, 'UID', 'Calendar'));
  if (uid !== undefined) return uid;
  const id = Buffer.from(text(child(request, 'GlobalObjId', 'Email')) ?? '', 'base64');
  const at = id.indexOf(vcalUid);
  if (at === -1) return '';
  const start = at + vcalUid.length;
  const end = id.indexOf(0, start);
  return id.subarray(start, end === -1 ? id.length : end).toString('utf8');
}

function parseMessage(data: WbxmlElement): PhoneMessage {
  const flag = child(data, 'Flag', 'Email');
  return {
    subject: text(child(data, 'Subject', 'Email')) ?? '',
    read: text(child(data, 'Read', 'Email')) === '1',
    flagged: text(child(flag, 'Status', 'Email')) === '2',
    verb: text(child(data, 'LastVerbExecuted', 'Email2')) ?? '',
    categories: children(child(data, 'Categories', 'Email'), 'Category', 'Email').map((c) => text(c) ?? ''),
    meeting: meetingUidOf(data),
  };
}

/** The hub's mail item as a phone is sent it, in view form. */
export function mailViewOfTruth(data: string, version: string): string {
  try {
    return viewOf(parseMessage(el('AirSync', 'ApplicationData', ...emailMapper.toEas(data, { version } as Parameters<typeof emailMapper.toEas>[1]))));
  } catch (err) {
    return `UNCONVERTIBLE: ${(err as Error).message}`;
  }
}

/**
 * How a phone's request reaches the face: its answer (`empty` for an empty 200), or undefined when it
 * got none (lost on its way back, or the server died under it: the phone sends it again).
 */
export type EasMailLink = (phone: EasMailPhone, command: string, body: WbxmlElement, faults: boolean) => Promise<WbxmlElement | 'empty' | undefined>;

type FolderCommand = { op: 'change'; serverId: string; after: PhoneMessage; read?: boolean; flagged?: boolean } | { op: 'delete'; serverId: string };

class PhoneFolder {
  syncKey = '0';
  readonly items = new Map<string, PhoneMessage>();
  /** Its user's commands not yet sent, or sent and not answered. */
  pending: FolderCommand[] = [];
  /** The request sent and not answered, with the commands it carries: sent again as it was. */
  unanswered: { body: WbxmlElement; sent: FolderCommand[] } | undefined;

  constructor(
    readonly type: number,
    readonly name: string,
  ) {}
}

export interface EasMailPhoneOptions {
  /** The DeviceId; its sync point is eas-<id>. */
  deviceId: string;
  version: '14.1' | '16.1';
  windowSize: number;
  /** DeletesAsMoves 0: its deletes delete, rather than move to Deleted Items. */
  deletesDelete: boolean;
  /** Times a request is sent again at once after a lost answer, before the phone leaves it for later. */
  attemptsMax: number;
  /** Where its answers to meetings, and what it was told of them, are noted for the checks. */
  meetings: MeetingLedger;
}

/** Its user's answer to a meeting request (MeetingResponse UserResponse: 1 accept, 2 tentative, 3 decline). */
interface MeetingAnswer {
  folderId: string;
  serverId: string;
  uid: string;
  response: '1' | '2' | '3';
  sendResponse: boolean;
}

export class EasMailPhone {
  readonly id: string;
  folderKey = '0';
  readonly folders = new Map<string, PhoneFolder>();
  /** A move asked and not answered: asked again until it is. */
  move: { from: string; itemId: string; to: string } | undefined;
  /** A send not answered: sent again, with the same ClientId, until it is. */
  send: { clientId: string; mime: string } | undefined;
  /** An answer to a meeting not answered: sent again, as it was, until it is. */
  meeting: MeetingAnswer | undefined;
  /** What it was told of each send, by the hub's client id (device id and ClientId: docs/eas.md). */
  readonly sends = new Map<string, 'sending' | 'sent' | 'unknown' | 'refused'>();
  readonly counts = { syncs: 0, moves: 0, movesReplayed: 0, filedUnderDstMsgId: 0, sends: 0, meetingResponses: 0, lost: 0 };
  private sendCount = 0;

  constructor(
    readonly options: EasMailPhoneOptions,
    private readonly rng: Rng,
    private readonly link: EasMailLink,
    private readonly trace: Trace | undefined,
  ) {
    this.id = `eas-${options.deviceId}`;
  }

  /** The hub's client id of one of its ClientIds (send-mail.ts). */
  hubClientId(clientId: string): string {
    return `${this.id}/${clientId}`;
  }

  /** Folders by their FolderSync type: the Inbox, and the user folder named Archive. */
  private folderOf(type: number, name?: string): string | undefined {
    return [...this.folders].find(([, f]) => f.type === type && (name === undefined || f.name === name))?.[0];
  }

  busy(): boolean {
    return this.move !== undefined || this.send !== undefined || this.meeting !== undefined || [...this.folders.values()].some((f) => f.pending.length > 0 || f.unanswered !== undefined);
  }

  /** Its user sends, moves, marks read or unread, flags or unflags, or deletes a message it holds (one thing at a time). */
  act(): void {
    if (this.busy() || this.folders.size === 0) return;
    const roll = this.rng.float();
    if (roll < 0.12) {
      const clientId = String(++this.sendCount);
      const to = `friend${this.rng.int(1, 3)}@example.net`;
      const mime = `From: ann@example.org\r\nTo: ${to}\r\nSubject: Phone note ${this.id} ${clientId}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSent from ${this.id}, ${clientId}.\r\n`;
      this.send = { clientId, mime };
      this.sends.set(this.hubClientId(clientId), 'sending');
      this.trace?.(`${this.id} user: sends ClientId ${clientId}`);
      return;
    }
    const held = [...this.folders].flatMap(([folderId, f]) => [...f.items.keys()].sort().map((serverId) => ({ folderId, serverId, message: f.items.get(serverId) as PhoneMessage })));
    if (held.length === 0) return;
    const requests = held.filter((h) => h.message.meeting !== '');
    if (requests.length > 0 && this.rng.chance(0.4)) {
      const { folderId, serverId, message } = this.rng.pick(requests);
      const response = this.rng.pick(['1', '2', '3'] as const);
      // SendResponse is of 16.0 and later; a 14.1 phone that sends it now and then shows the server ignores it.
      const sendResponse = this.rng.chance(this.options.version === '16.1' ? 0.7 : 0.2);
      this.meeting = { folderId, serverId, uid: message.meeting, response, sendResponse };
      this.trace?.(`${this.id} user: answers ${message.meeting} (${serverId}) with ${response}${sendResponse ? ', SendResponse' : ''}`);
      return;
    }
    const { folderId, serverId, message } = this.rng.pick(held);
    const folder = this.folders.get(folderId) as PhoneFolder;
    const [inbox, archive] = [this.folderOf(inboxType), this.folderOf(12, 'Archive')];
    if (roll < 0.3 && inbox && archive && (folderId === inbox || folderId === archive)) {
      this.move = { from: folderId, itemId: serverId, to: folderId === inbox ? archive : inbox };
      this.trace?.(`${this.id} user: moves ${message.subject} (${serverId}) to ${this.folders.get(this.move.to)?.name}`);
      return;
    }
    if (roll < 0.42) {
      folder.pending = [{ op: 'delete', serverId }];
      this.trace?.(`${this.id} user: deletes ${message.subject} (${serverId})`);
      return;
    }
    const change: FolderCommand =
      this.rng.chance(0.5) ? { op: 'change', serverId, read: !message.read, after: { ...message, read: !message.read } } : { op: 'change', serverId, flagged: !message.flagged, after: { ...message, flagged: !message.flagged } };
    folder.pending = [change];
    this.trace?.(`${this.id} user: ${message.subject} (${serverId}) ${viewOf(change.after)}`);
  }

  /** FolderSync: the mail folders, by collection id; false when it got no answer. */
  async folderSync(faults: boolean): Promise<boolean> {
    const body = await this.post('FolderSync', fh('FolderSync', fh('SyncKey', this.folderKey)), faults);
    if (body === undefined || body === 'empty') return false;
    const status = text(child(body, 'Status'));
    if (status === '9') {
      this.folderKey = '0';
      this.folders.clear();
      return this.folderSync(faults);
    }
    if (status !== '1') throw new Error(`${this.id}: FolderSync answered Status ${status}`);
    this.folderKey = text(child(body, 'SyncKey')) ?? '0';
    const changes = child(body, 'Changes');
    for (const add of [...children(changes, 'Add'), ...children(changes, 'Update')]) {
      const [id, type] = [text(child(add, 'ServerId')) ?? '', Number(text(child(add, 'Type')))];
      if (mailTypes.has(type) && !this.folders.has(id)) this.folders.set(id, new PhoneFolder(type, text(child(add, 'DisplayName')) ?? ''));
    }
    for (const gone of children(changes, 'Delete')) this.folders.delete(text(child(gone, 'ServerId')) ?? '');
    return true;
  }

  /** Syncs one folder until nothing more is available; stops early when an answer does not come. */
  async syncFolder(folderId: string, faults: boolean): Promise<'done' | 'gaveUp'> {
    this.counts.syncs++;
    for (let exchange = 0; exchange < 100; exchange++) {
      const folder = this.folders.get(folderId);
      if (!folder) return 'done';
      const request = folder.unanswered ?? { body: this.syncRequest(folderId, folder, folder.pending), sent: folder.syncKey === '0' ? [] : folder.pending };
      // A first key carries no commands (MS-ASCMD 2.2.3.166.4): they wait for the next request.
      if (folder.syncKey === '0') request.sent = [];
      folder.unanswered = request;
      const body = await this.post('Sync', request.body, faults);
      if (body === undefined) return 'gaveUp';
      folder.unanswered = undefined;
      if (body === 'empty') throw new Error(`${this.id}: a full Sync was answered empty`);
      const collection = child(child(body, 'Collections'), 'Collection');
      const status = text(child(collection, 'Status')) ?? text(child(body, 'Status'));
      if (status === '3') {
        // The key is no longer known: the folder starts over, and what the user did there is dropped.
        this.trace?.(`${this.id} starts ${folder.name} over (Status 3)`);
        folder.syncKey = '0';
        folder.items.clear();
        folder.pending = [];
        continue;
      }
      if (status === '12') return (await this.folderSync(faults)) ? 'done' : 'gaveUp';
      if (status === '16') return 'gaveUp';
      if (status !== '1' || !collection) throw new Error(`${this.id}: Sync of ${folder.name} answered Status ${status ?? '(none)'}`);
      const first = folder.syncKey === '0';
      folder.syncKey = text(child(collection, 'SyncKey')) ?? folder.syncKey;
      this.applyResponses(folder, request.sent, child(collection, 'Responses'));
      for (const command of elements(child(collection, 'Commands'))) {
        const serverId = text(child(command, 'ServerId')) ?? '';
        if (command.name === 'Delete' || command.name === 'SoftDelete') folder.items.delete(serverId);
        else if (command.name === 'Add' || command.name === 'Change') {
          const data = child(command, 'ApplicationData');
          if (!data) throw new Error(`${this.id}: the server's ${command.name} of ${serverId} has no ApplicationData`);
          folder.items.set(serverId, parseMessage(data));
        }
      }
      const more = child(collection, 'MoreAvailable') !== undefined;
      if (!first && !more && folder.pending.length === 0) return 'done';
    }
    throw new Error(`${this.id}: ${folderId} had not settled after 100 exchanges`);
  }

  private syncRequest(folderId: string, folder: PhoneFolder, commands: readonly FolderCommand[]): WbxmlElement {
    const started = folder.syncKey !== '0';
    return as(
      'Sync',
      as(
        'Collections',
        as(
          'Collection',
          as('SyncKey', folder.syncKey),
          as('CollectionId', folderId),
          this.options.deletesDelete && as('DeletesAsMoves', '0'),
          started && as('GetChanges', '1'),
          started && as('WindowSize', String(this.options.windowSize)),
          as('Options', as('FilterType', '0'), asb('BodyPreference', asb('Type', '1'), asb('TruncationSize', '512')), this.options.version === '16.1' && asb('BodyPreference', asb('Type', '2'), asb('TruncationSize', '512'))),
          started && commands.length > 0 && as('Commands', ...commands.map(commandElement)),
        ),
      ),
    );
  }

  /** The answers to its own commands: a success is not echoed (MS-ASCMD 2.2.3.141). */
  private applyResponses(folder: PhoneFolder, sent: readonly FolderCommand[], responses: WbxmlElement | undefined): void {
    const answers = elements(responses);
    const left: FolderCommand[] = [];
    for (const command of sent) {
      const answer = answers.find((a) => a.name === (command.op === 'change' ? 'Change' : 'Delete') && text(child(a, 'ServerId')) === command.serverId);
      const status = answer ? text(child(answer, 'Status')) : '1';
      if (status === '1') {
        if (command.op === 'delete') folder.items.delete(command.serverId);
        else if (folder.items.has(command.serverId)) folder.items.set(command.serverId, command.after);
      } else if (status === '8') folder.items.delete(command.serverId);
      // Conflict: the server's version won (the upstream comes first in priority); the phone keeps what it
      // holds, and the server must send it the winner if it holds anything else.
      else if (status === '7') continue;
      // The mail server could not be reached: nothing changed, sent again later.
      else if (status === '16') left.push(command);
      else throw new Error(`${this.id}: ${command.op} of ${command.serverId} answered Status ${status}`);
    }
    folder.pending = [...left, ...folder.pending.filter((c) => !sent.includes(c))];
  }

  /** Its move, asked (again); its answer applied as a phone does. */
  async moveOf(faults: boolean): Promise<void> {
    const move = this.move;
    if (!move) return;
    this.counts.moves++;
    const body = await this.post('MoveItems', mv('MoveItems', mv('Move', mv('SrcMsgId', move.itemId), mv('SrcFldId', move.from), mv('DstFldId', move.to))), faults);
    if (body === undefined || body === 'empty') return;
    const response = child(body, 'Response', 'Move');
    const status = text(child(response, 'Status'));
    if (status === '5') return;
    this.move = undefined;
    if (status === '1') {
      // Gone from the source: moved meanwhile, or by this same move whose answer was lost. The Syncs tell.
      this.counts.movesReplayed++;
      return;
    }
    if (status !== '3') throw new Error(`${this.id}: MoveItems answered Status ${status}`);
    const from = this.folders.get(move.from);
    const message = from?.items.get(move.itemId);
    from?.items.delete(move.itemId);
    const newId = text(child(response, 'DstMsgId'));
    // Filed under its new id at once, as phones do: the destination's next Sync must agree with it.
    if (newId !== undefined && message) {
      this.counts.filedUnderDstMsgId++;
      this.folders.get(move.to)?.items.set(newId, message);
    }
  }

  /** Its send, sent (again, with the same ClientId). */
  async sendOf(faults: boolean): Promise<void> {
    const send = this.send;
    if (!send) return;
    this.counts.sends++;
    const body = await this.post('SendMail', cm('SendMail', cm('ClientId', send.clientId), cm('SaveInSentItems'), cm('Mime', send.mime)), faults);
    if (body === undefined) return;
    const hubId = this.hubClientId(send.clientId);
    const settle = (outcome: 'sent' | 'unknown' | 'refused') => {
      this.sends.set(hubId, outcome);
      this.send = undefined;
    };
    if (body === 'empty') return settle('sent');
    const status = text(child(body, 'Status'));
    // Its outcome unknown: not sent again under this ClientId (docs/eas.md § Sending and moving mail).
    if (status === '118') return settle('unknown');
    if (status === '120' && this.rng.chance(0.5)) return settle('refused');
    if (status !== '111' && status !== '120') throw new Error(`${this.id}: SendMail answered Status ${status}`);
  }

  /** Its answer to a meeting, sent (again, as it was). */
  async meetingResponseOf(faults: boolean): Promise<void> {
    const answer = this.meeting;
    if (!answer) return;
    this.counts.meetingResponses++;
    const request = mr(
      'MeetingResponse',
      mr('Request', mr('UserResponse', answer.response), mr('CollectionId', answer.folderId), mr('RequestId', answer.serverId), answer.sendResponse && mr('SendResponse', asb('Body', asb('Type', '1'), asb('Data', `Answered on ${this.id}.`)))),
    );
    const asked = { phone: this.id, uid: answer.uid, response: answer.response, replies: answer.sendResponse && this.options.version === '16.1' };
    this.options.meetings.asked(asked);
    const lostBefore = this.counts.lost;
    const body = await this.post('MeetingResponse', request, faults);
    if (body === undefined) return this.options.meetings.answered(asked, undefined);
    if (body === 'empty') throw new Error(`${this.id}: MeetingResponse was answered empty`);
    const result = child(body, 'Result', 'MeetingResponse');
    const status = text(child(result, 'Status', 'MeetingResponse')) ?? '(none)';
    if (text(child(result, 'RequestId', 'MeetingResponse')) !== answer.serverId) throw new Error(`${this.id}: MeetingResponse's Result names another RequestId`);
    // A Status 2 after a lost answer says nothing of what the lost one did.
    this.options.meetings.answered(asked, status === '2' && this.counts.lost > lostBefore ? undefined : status);
    // 3: the mail server was not reached (the reply not sent): asked again, as it was.
    if (status === '3') return;
    // 2: the message is gone (moved or deleted meanwhile): the user sees it no longer.
    if (status !== '1' && status !== '2') throw new Error(`${this.id}: MeetingResponse answered Status ${status}`);
    this.meeting = undefined;
  }

  private async post(command: string, body: WbxmlElement, faults: boolean): Promise<WbxmlElement | 'empty' | undefined> {
    for (let attempt = 1; attempt <= this.options.attemptsMax; attempt++) {
      const answer = await this.link(this, command, body, faults);
      if (answer !== undefined) return answer;
      this.counts.lost++;
    }
    return undefined;
  }

  /** What the checks compare: each folder's messages by ServerId, in view form. */
  held(folderId: string): Map<string, string> {
    return new Map([...(this.folders.get(folderId)?.items ?? [])].map(([id, m]) => [id, viewOf(m)]));
  }
}

function commandElement(c: FolderCommand): WbxmlElement {
  if (c.op === 'delete') return as('Delete', as('ServerId', c.serverId));
  const data =
    c.read !== undefined ? em('Read', c.read ? '1' : '0') : c.flagged ? em('Flag', em('Status', '2'), em('FlagType', 'Flag for follow up')) : em('Flag');
  return as('Change', as('ServerId', c.serverId), as('ApplicationData', data));
}
