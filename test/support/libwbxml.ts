import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { encodeWbxml, type WbxmlElement, type WbxmlNode } from '../../src/faces/eas/wbxml/codec.js';
import { fromXml, toXml } from '../../src/faces/eas/wbxml/xml.js';
import type { EasClient, EasResponse } from './eas-client.js';

/**
 * Debian's libwbxml2-utils as an independent reader of ActiveSync WBXML (test/e2e/eas-wbxml-libwbxml.test.ts
 * checks our codec against it message by message; other suites check the bodies a command sends and answers).
 */

const run = promisify(execFile);
export const wbxml2xml = '/usr/bin/wbxml2xml';
export const xml2wbxml = '/usr/bin/xml2wbxml';
/** The tools that are not installed (apt-get install libwbxml2-utils); a suite skips its cross-checks then. */
export const libwbxmlMissing = [wbxml2xml, xml2wbxml].filter((tool) => !existsSync(tool));

/**
 * Where libwbxml 0.11.8 names a tag differently from [MS-ASWBXML]: mostly names from the specification's
 * first revision (BusinessCity, Recurrence_Type, ...), and a few slips (ihsManagementInformation). The
 * tokens agree; only the XML spelling differs.
 */
export const libwbxmlNames: Record<string, Record<string, string>> = {
  Contacts: {
    AssistantPhoneNumber: 'AssistantTelephoneNumber',
    BusinessAddressCity: 'BusinessCity', BusinessAddressCountry: 'BusinessCountry', BusinessAddressPostalCode: 'BusinessPostalCode',
    BusinessAddressState: 'BusinessState', BusinessAddressStreet: 'BusinessStreet',
    HomeAddressCity: 'HomeCity', HomeAddressCountry: 'HomeCountry', HomeAddressPostalCode: 'HomePostalCode',
    HomeAddressState: 'HomeState', HomeAddressStreet: 'HomeStreet',
    OtherAddressCity: 'OtherCity', OtherAddressCountry: 'OtherCountry', OtherAddressPostalCode: 'OtherPostalCode',
    OtherAddressState: 'OtherState', OtherAddressStreet: 'OtherStreet',
  },
  Email: {
    ReplyTo: 'Reply-To', DtStamp: 'DTStamp', Status: 'FlagStatus',
    Type: 'Recurrence_Type', Until: 'Recurrence_Until', Occurrences: 'Recurrence_Occurrences', Interval: 'Recurrence_Interval',
    DayOfWeek: 'Recurrence_DayOfWeek', DayOfMonth: 'Recurrence_DayOfMonth', WeekOfMonth: 'Recurrence_WeekOfMonth',
    MonthOfYear: 'Recurrence_MonthOfYear',
  },
  Calendar: {
    Timezone: 'TimeZone', Email: 'Attendee_Email', Name: 'Attendee_Name', DtStamp: 'DTStamp', Deleted: 'Exception_Deleted',
    ExceptionStartTime: 'Exception_StartTime', OrganizerEmail: 'Organizer_Email', OrganizerName: 'Organizer_Name',
    Type: 'Recurrence_Type', Until: 'Recurrence_Until', Occurrences: 'Recurrence_Occurrences', Interval: 'Recurrence_Interval',
    DayOfWeek: 'Recurrence_DayOfWeek', DayOfMonth: 'Recurrence_DayOfMonth', WeekOfMonth: 'Recurrence_WeekOfMonth',
    MonthOfYear: 'Recurrence_MonthOfYear', AttendeeStatus: 'Attendee_Status', AttendeeType: 'Attendee_Type',
  },
  Tasks: {
    UtcDueDate: 'UTCDueDate', UtcStartDate: 'UTCStartDate',
    Type: 'Recurrence_Type', Start: 'Recurrence_Start', Until: 'Recurrence_Until', Occurrences: 'Recurrence_Occurrences',
    Interval: 'Recurrence_Interval', DayOfMonth: 'Recurrence_DayOfMonth', DayOfWeek: 'Recurrence_DayOfWeek',
    WeekOfMonth: 'Recurrence_WeekOfMonth', MonthOfYear: 'Recurrence_MonthOfYear', Regenerate: 'Recurrence_Regenerate',
    DeadOccur: 'Recurrence_DeadOccur',
  },
  ValidateCert: { CheckCrl: 'CheckCRL' },
  Provision: { RequireStorageCardEncryption: 'DeviceEncryptionEnabled' }, // token 0x10 has both names there
  Settings: { SMTPAddress: 'SmtpAddress', RightsManagementInformation: 'ihsManagementInformation' },
  ComposeMail: { Mime: 'MIME' },
  RightsManagement: { Owner: 'RMOwner', RemoveRightsManagementProtection: 'RemoveRightsManagementDistribution' },
};
/** libwbxml's namespace for code page 16, which Microsoft calls GAL. */
export const libwbxmlNs: Record<string, string> = { GAL: 'Gal' };

export const ourNames = Object.fromEntries(
  Object.entries(libwbxmlNames).map(([ns, names]) => [ns, Object.fromEntries(Object.entries(names).map(([a, b]) => [b, a]))]),
);

export function rename(e: WbxmlElement, names: Record<string, Record<string, string>>, nss: Record<string, string>): WbxmlElement {
  return {
    ns: nss[e.ns] ?? e.ns,
    name: names[e.ns]?.[e.name] ?? e.name,
    children: e.children.map((c) => (typeof c === 'object' && !(c instanceof Uint8Array) ? rename(c, names, nss) : c)),
  };
}

/**
 * `e` as libwbxml reads it back (libwbxmlReads): OPAQUE in base64, as it prints (and reads) the tags it knows
 * to be binary, and each text without white space at its ends, which wbxml2xml trims as it prints.
 */
export function asLibwbxmlReads(e: WbxmlElement): WbxmlElement {
  const convert = (c: WbxmlNode): WbxmlNode =>
    c instanceof Uint8Array ? Buffer.from(c).toString('base64') : typeof c === 'string' ? c.trim() : asLibwbxmlReads(c);
  return { ...e, children: e.children.map(convert) };
}

/**
 * How libwbxml reads `bytes` (`wbxml2xml -l ACTIVESYNC`), in our names, OPAQUE shown as base64: compare it
 * with `asLibwbxmlReads` of our own decoding.
 */
export async function libwbxmlReads(bytes: Uint8Array): Promise<WbxmlElement> {
  const work = await mkdtemp(join(tmpdir(), 'syncpoint-libwbxml-'));
  try {
    await writeFile(join(work, 'in.wbxml'), bytes);
    await run(wbxml2xml, ['-m', '0', '-l', 'ACTIVESYNC', '-o', join(work, 'out.xml'), join(work, 'in.wbxml')]);
    // wbxml2xml writes CR raw, which an XML parser would fold into LF.
    return rename(fromXml((await readFile(join(work, 'out.xml'), 'utf8')).replaceAll('\r', '&#13;')), ourNames, {});
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * The tags libwbxml 0.11.8 writes as OPAQUE and prints as base64 (AirSyncBase Content, ComposeMail Mime,
 * Email2 ConversationId and ConversationIndex, GAL and ResolveRecipients Data, ItemOperations and Search
 * ConversationId): in the XML it encodes, their content is base64.
 */
const libwbxmlBinary: Record<string, string[]> = {
  AirSyncBase: ['Content'], ComposeMail: ['Mime'], Email2: ['ConversationId', 'ConversationIndex'], GAL: ['Data'],
  ResolveRecipients: ['Data'], ItemOperations: ['ConversationId'], Search: ['ConversationId'],
};

/** `e` with the text of libwbxml's binary tags as its UTF-8 bytes (toXml writes them in base64), as libwbxmlWrites encodes it. */
export function withBinaryBytes(e: WbxmlElement): WbxmlElement {
  const binary = libwbxmlBinary[e.ns]?.includes(e.name) ?? false;
  const convert = (c: WbxmlNode): WbxmlNode =>
    typeof c === 'string' ? (binary ? new TextEncoder().encode(c) : c) : c instanceof Uint8Array ? c : withBinaryBytes(c);
  return { ...e, children: e.children.map(convert) };
}

/**
 * `tree` encoded by libwbxml (`xml2wbxml -k -n -a`, text kept exactly, no string table, anonymous), the
 * XML-to-WBXML direction: requests written as XML (test/fixtures/eas-examples) go to the server as
 * libwbxml encodes them. Text given for a binary tag is sent as its UTF-8 bytes.
 */
export async function libwbxmlWrites(tree: WbxmlElement): Promise<Uint8Array> {
  const work = await mkdtemp(join(tmpdir(), 'syncpoint-libwbxml-'));
  try {
    await writeFile(join(work, 'in.xml'), toXml(rename(withBinaryBytes(tree), libwbxmlNames, libwbxmlNs)));
    await run(xml2wbxml, ['-k', '-n', '-a', '-o', join(work, 'out.wbxml'), join(work, 'in.xml')]);
    return new Uint8Array(await readFile(join(work, 'out.wbxml')));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Sends a command after libwbxml read its body as we wrote it, expects 200, and has libwbxml read the answer's body as we do. */
export async function sendChecked(client: EasClient, command: string, body: WbxmlElement): Promise<EasResponse> {
  const bytes = encodeWbxml(body);
  if (libwbxmlMissing.length === 0) assert.deepEqual(await libwbxmlReads(bytes), asLibwbxmlReads(body), `libwbxml reads the ${command} request as we wrote it`);
  const res = await client.send(command, bytes);
  assert.equal(res.status, 200, res.text);
  if (res.body && libwbxmlMissing.length === 0) assert.deepEqual(await libwbxmlReads(res.bytes), asLibwbxmlReads(res.body), `libwbxml reads the ${command} answer as we do`);
  return res;
}
