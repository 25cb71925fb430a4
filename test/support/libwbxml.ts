import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { WbxmlElement } from '../../src/faces/eas/wbxml/codec.js';
import { toXml } from '../../src/faces/eas/wbxml/xml.js';

/** Debian's libwbxml2-utils (`wbxml2xml`), the independent WBXML implementation our messages are checked against. */
export const wbxml2xml = '/usr/bin/wbxml2xml';
export const xml2wbxml = '/usr/bin/xml2wbxml';

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


const run = promisify(execFile);

/**
 * What libwbxml's `wbxml2xml` prints for `bytes` (as sent or received on the wire), for comparing with
 * `asLibwbxmlXml` of the tree we meant; undefined when libwbxml2-utils is not installed.
 */
export async function libwbxmlPrints(bytes: Uint8Array): Promise<string | undefined> {
  if (!existsSync(wbxml2xml)) return undefined;
  const dir = await mkdtemp(join(tmpdir(), 'syncpoint-libwbxml-'));
  try {
    await writeFile(join(dir, 'in.wbxml'), bytes);
    await run(wbxml2xml, ['-m', '0', '-l', 'ACTIVESYNC', '-o', join(dir, 'out.xml'), join(dir, 'in.wbxml')]);
    return await readFile(join(dir, 'out.xml'), 'utf8');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The XML libwbxml prints for `tree`: its names, CR as wbxml2xml writes it (raw), and each text trimmed of white space at its ends, as wbxml2xml prints it. */
export const asLibwbxmlXml = (tree: WbxmlElement) => toXml(trimmed(rename(tree, libwbxmlNames, libwbxmlNs))).replaceAll('&#13;', '\r');

function trimmed(e: WbxmlElement): WbxmlElement {
  return { ...e, children: e.children.map((c) => (typeof c === 'string' ? c.trim() : c instanceof Uint8Array ? c : trimmed(c))) };
}
