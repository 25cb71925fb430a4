import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm as remove, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { decodeWbxml, encodeWbxml, namespace, type WbxmlElement } from '../../src/faces/eas/wbxml/codec.js';
import { fromXml, toXml } from '../../src/faces/eas/wbxml/xml.js';
import { libwbxmlMissing as missing, libwbxmlNames, libwbxmlNs, asLibwbxmlReads, ourNames, libwbxmlWrites, rename, wbxml2xml } from '../support/libwbxml.js';

/**
 * Our WBXML codec against an independent implementation, Debian's libwbxml2-utils (0.11.8 in bookworm):
 * every message is encoded by us and printed by `wbxml2xml -l ACTIVESYNC`, and encoded by `xml2wbxml`
 * and decoded by us. The messages cover every ActiveSync code page but AirNotify (it has no tags left)
 * and Find (16.1; libwbxml 0.11.8 predates it).
 */

const run = promisify(execFile);

const as = namespace('AirSync');
const asb = namespace('AirSyncBase');
const contacts = namespace('Contacts');
const contacts2 = namespace('Contacts2');
const email = namespace('Email');
const email2 = namespace('Email2');
const cal = namespace('Calendar');
const tasks = namespace('Tasks');
const notes = namespace('Notes');
const rm = namespace('RightsManagement');
const move = namespace('Move');
const gie = namespace('GetItemEstimate');
const fh = namespace('FolderHierarchy');
const mr = namespace('MeetingResponse');
const rr = namespace('ResolveRecipients');
const vc = namespace('ValidateCert');
const ping = namespace('Ping');
const prov = namespace('Provision');
const search = namespace('Search');
const gal = namespace('GAL');
const settings = namespace('Settings');
const doclib = namespace('DocumentLibrary');
const io = namespace('ItemOperations');
const cm = namespace('ComposeMail');

const bytes = (...b: number[]) => Uint8Array.from(b);
const utf8 = (s: string) => new TextEncoder().encode(s);

// Tags libwbxml treats as binary (AirSyncBase Content, ComposeMail Mime, Email2 ConversationId and
// ConversationIndex, GAL and ResolveRecipients Data, ItemOperations and Search ConversationId) carry
// OPAQUE here; everywhere else text.
const messages: Array<[string, WbxmlElement]> = [
  ['FolderSync response', fh('FolderSync', fh('Status', '1'), fh('SyncKey', '{a1b2}1'),
    fh('Changes', fh('Count', '3'),
      fh('Add', fh('ServerId', 'c1'), fh('ParentId', '0'), fh('DisplayName', 'Contacts'), fh('Type', '9')),
      fh('Update', fh('ServerId', 'k1'), fh('ParentId', '0'), fh('DisplayName', 'Kalender für Zoë'), fh('Type', '8')),
      fh('Delete', fh('ServerId', 'n9'))))],
  ['FolderCreate request', fh('FolderCreate', fh('SyncKey', '1'), fh('ParentId', '0'), fh('DisplayName', 'Work & <Home>'), fh('Type', '14'))],
  ['Sync: a contact added with Contacts2 fields and a CRLF body', as('Sync', as('Collections', as('Collection',
    as('Class', 'Contacts'), as('SyncKey', '2'), as('CollectionId', 'c1'), as('Status', '1'),
    as('Commands', as('Add', as('ServerId', 'c1:1'), as('ApplicationData',
      asb('Body', asb('Type', '1'), asb('EstimatedDataSize', '22'), asb('Data', 'line one\r\nline "two" \'3\'')),
      contacts('FileAs', 'Funk, Don'), contacts('FirstName', 'Don'), contacts('LastName', 'Funk'),
      contacts('AssistantPhoneNumber', '+1 555 0100'), contacts('BusinessAddressCity', 'Redmond'),
      contacts('BusinessAddressCountry', 'USA'), contacts('BusinessAddressPostalCode', '98052'), contacts('BusinessAddressState', 'WA'),
      contacts('BusinessAddressStreet', 'One Way'), contacts('HomeAddressCity', 'Köln'), contacts('HomeAddressCountry', 'DE'),
      contacts('HomeAddressPostalCode', '50667'), contacts('HomeAddressState', 'NRW'), contacts('HomeAddressStreet', 'Domkloster 4'),
      contacts('OtherAddressCity', 'Paris'), contacts('OtherAddressCountry', 'FR'), contacts('OtherAddressPostalCode', '75001'),
      contacts('OtherAddressState', 'IDF'), contacts('OtherAddressStreet', 'Rue de Rivoli'), contacts('Birthday', '1980-05-17T00:00:00.000Z'),
      contacts('Categories', contacts('Category', 'Friends'), contacts('Category', 'VIP')),
      contacts('Children', contacts('Child', 'Ann')), contacts('Picture', Buffer.from([0xff, 0xd8, 0xff]).toString('base64')),
      contacts('WeightedRank', '1'),
      contacts2('NickName', 'Donny'), contacts2('IMAddress', 'xmpp:don@example.org'), contacts2('ManagerName', 'Jane'),
      contacts2('CompanyMainPhone', '+1 555 0000'), contacts2('MMS', '+1 555 0101'),
      asb('NativeBodyType', '1')))))))],
  ['Sync: calendar change with attendees, recurrence and an exception; a task and a note', as('Sync', as('Collections',
    as('Collection', as('SyncKey', '7'), as('CollectionId', 'k1'), as('GetChanges'), as('WindowSize', '25'),
      as('Options', as('FilterType', '4'), asb('BodyPreference', asb('Type', '1'), asb('TruncationSize', '51200'))),
      as('Commands',
        as('Change', as('ServerId', 'k1:3'), as('ApplicationData',
          cal('Timezone', 'xP///0MAZQBuAHQAcgBhAGwAIABFAHUAcgBvAHAAZQA='), cal('AllDayEvent', '0'), cal('BusyStatus', '2'),
          cal('DtStamp', '20260101T120000Z'), cal('StartTime', '20260105T090000Z'), cal('EndTime', '20260105T093000Z'),
          cal('Subject', 'Stand-up'), cal('Location', 'Room 1'), cal('UID', '0400000082@example.org'), cal('MeetingStatus', '1'),
          cal('OrganizerEmail', 'boss@example.org'), cal('OrganizerName', 'Boss'), cal('Sensitivity', '0'), cal('Reminder', '10'),
          cal('Attendees', cal('Attendee', cal('Email', 'ann@example.org'), cal('Name', 'Ann'), cal('AttendeeStatus', '3'), cal('AttendeeType', '1'))),
          cal('Categories', cal('Category', 'Team')),
          cal('Recurrence', cal('Type', '1'), cal('Interval', '1'), cal('DayOfWeek', '62'), cal('Until', '20261231T000000Z')),
          cal('Exceptions', cal('Exception', cal('Deleted', '1'), cal('ExceptionStartTime', '20260107T090000Z'))),
          cal('ResponseRequested', '1'), cal('DisallowNewTimeProposal', '0'), cal('ResponseType', '1'),
          asb('Body', asb('Type', '1'), asb('Data', 'Daily\nsync')))),
        as('Delete', as('ServerId', 'k1:4')))),
    as('Collection', as('SyncKey', '3'), as('CollectionId', 't1'), as('Commands', as('Add', as('ClientId', '17'), as('ApplicationData',
      tasks('Subject', 'Taxes'), tasks('Importance', '2'), tasks('Complete', '0'), tasks('StartDate', '2026-03-01T00:00:00.000Z'),
      tasks('UtcStartDate', '2026-02-28T23:00:00.000Z'), tasks('DueDate', '2026-04-15T00:00:00.000Z'),
      tasks('UtcDueDate', '2026-04-14T22:00:00.000Z'), tasks('ReminderSet', '1'), tasks('ReminderTime', '2026-04-14T08:00:00.000Z'),
      tasks('Recurrence', tasks('Type', '5'), tasks('Start', '2026-03-01T00:00:00.000Z'), tasks('Interval', '1'),
        tasks('DayOfMonth', '15'), tasks('MonthOfYear', '4'), tasks('Regenerate', '0'), tasks('DeadOccur', '0')),
      tasks('Categories', tasks('Category', 'Home')), tasks('Sensitivity', '0'))))),
    as('Collection', as('SyncKey', '1'), as('CollectionId', 'n1'), as('Commands', as('Add', as('ClientId', '18'), as('ApplicationData',
      notes('Subject', 'Groceries'), notes('MessageClass', 'IPM.StickyNote'), notes('LastModifiedDate', '2026-01-02T10:00:00.000Z'),
      notes('Categories', notes('Category', 'Shopping')), asb('Body', asb('Type', '1'), asb('Data', 'milk, eggs'))))))))],
  ['Sync: an email with Email2 and RightsManagement fields', as('Sync', as('Collections', as('Collection',
    as('SyncKey', '9'), as('CollectionId', 'm1'), as('Status', '1'),
    as('Commands', as('Add', as('ServerId', 'm1:1'), as('ApplicationData',
      email('To', '"Ann" <ann@example.org>'), email('Cc', 'bob@example.org'), email('From', 'boss@example.org'),
      email('ReplyTo', 'noreply@example.org'), email('Subject', 'Invitation'), email('DateReceived', '2026-01-02T10:00:00.000Z'),
      email('DisplayTo', 'Ann'), email('ThreadTopic', 'Invitation'), email('Importance', '1'), email('Read', '0'),
      email('MessageClass', 'IPM.Schedule.Meeting.Request'), email('InternetCPID', '65001'), email('ContentClass', 'urn:content-classes:calendarmessage'),
      email('MeetingRequest', email('AllDayEvent', '0'), email('StartTime', '2026-01-05T09:00:00.000Z'), email('DtStamp', '2026-01-02T10:00:00.000Z'),
        email('EndTime', '2026-01-05T10:00:00.000Z'), email('InstanceType', '1'), email('Location', 'Room 1'), email('Organizer', 'boss@example.org'),
        email('Reminder', '900'), email('ResponseRequested', '1'), email('Sensitivity', '0'), email('BusyStatus', '2'),
        email('TimeZone', 'xP///w=='), email('GlobalObjId', 'BAAAAIIA4AB0xbcQGoLgCAAAAAA='), email('DisallowNewTimeProposal', '0'),
        email('Recurrences', email('Recurrence', email('Type', '3'), email('Interval', '1'), email('DayOfMonth', '5'),
          email('Occurrences', '10')))),
      email('Flag', email('Status', '2'), email('FlagType', 'Follow up'), email('CompleteTime', '2026-01-03T10:00:00.000Z')),
      email('Categories', email('Category', 'Work')),
      email2('ConversationId', bytes(0x1f, 0x2e, 0x3d, 0x4c)), email2('ConversationIndex', bytes(0x01, 0xd7, 0x00)),
      email2('Sender', 'assistant@example.org'), email2('ReceivedAsBcc', '0'), email2('LastVerbExecuted', '1'),
      email2('MeetingMessageType', '1'),
      rm('RightsManagementLicense', rm('Owner', '0'), rm('ContentOwner', 'boss@example.org'), rm('ContentExpiryDate', '9999-12-31T23:59:59.999Z'),
        rm('EditAllowed', '0'), rm('ExportAllowed', '0'), rm('ExtractAllowed', '0'), rm('ForwardAllowed', '1'),
        rm('ModifyRecipientsAllowed', '0'), rm('PrintAllowed', '1'), rm('ProgrammaticAccessAllowed', '0'),
        rm('ReplyAllAllowed', '1'), rm('ReplyAllowed', '1'), rm('TemplateID', '{00000000-0000-0000-0000-000000000001}'),
        rm('TemplateName', 'Do Not Forward'), rm('TemplateDescription', 'Recipients can read')),
      asb('Attachments', asb('Attachment', asb('DisplayName', 'agenda.pdf'), asb('FileReference', 'm1:1:0'), asb('Method', '1'),
        asb('EstimatedDataSize', '2048'), asb('IsInline', '0'))),
      asb('Body', asb('Type', '2'), asb('EstimatedDataSize', '11'), asb('Truncated', '1'), asb('Data', '<p>Hi</p>'), asb('Preview', 'Hi'))))))))],
  ['GetItemEstimate request and response', gie('GetItemEstimate', gie('Collections',
    gie('Collection', as('SyncKey', '4'), gie('CollectionId', 'c1'), as('Options', as('FilterType', '0'))),
    gie('Collection', as('SyncKey', '7'), gie('CollectionId', 'k1'))))],
  ['GetItemEstimate response', gie('GetItemEstimate',
    gie('Response', gie('Status', '1'), gie('Collection', gie('CollectionId', 'c1'), gie('Estimate', '42'))))],
  ['MoveItems response', move('MoveItems', move('Response', move('SrcMsgId', 'c1:7'), move('Status', '3'), move('DstMsgId', 'c2:1')))],
  ['MoveItems request', move('MoveItems', move('Move', move('SrcMsgId', 'c1:7'), move('SrcFldId', 'c1'), move('DstFldId', 'c2')))],
  ['MeetingResponse request', mr('MeetingResponse', mr('Request', mr('UserResponse', '1'), mr('CollectionId', 'm1'),
    mr('RequestId', 'm1:1'), mr('InstanceId', '2026-01-05T09:00:00.000Z')))],
  ['MeetingResponse response', mr('MeetingResponse', mr('Result', mr('RequestId', 'm1:1'), mr('Status', '1'), mr('CalendarId', 'k1:9')))],
  ['ResolveRecipients response', rr('ResolveRecipients', rr('Status', '1'), rr('Response', rr('To', 'ann'), rr('Status', '1'),
    rr('RecipientCount', '1'), rr('Recipient', rr('Type', '1'), rr('DisplayName', 'Ann'), rr('EmailAddress', 'ann@example.org'),
      rr('Availability', rr('Status', '1'), rr('MergedFreeBusy', '0022')),
      rr('Certificates', rr('Status', '7'), rr('CertificateCount', '0')),
      rr('Picture', rr('Status', '1'), rr('Data', bytes(0x89, 0x50, 0x4e, 0x47))))))],
  ['ResolveRecipients request', rr('ResolveRecipients', rr('To', 'ann'), rr('Options', rr('CertificateRetrieval', '1'),
    rr('MaxCertificates', '5'), rr('MaxAmbiguousRecipients', '3'),
    rr('Availability', rr('StartTime', '2026-01-05T00:00:00.000Z'), rr('EndTime', '2026-01-06T00:00:00.000Z')),
    rr('Picture', rr('MaxSize', '4096'), rr('MaxPictures', '1'))))],
  ['ValidateCert request', vc('ValidateCert', vc('CertificateChain', vc('Certificate', 'MIIBszCCAVmgAwIBAgI=')),
    vc('Certificates', vc('Certificate', 'MIIBszCCAVmgAwIBAgI=')), vc('CheckCrl', '1'))],
  ['ValidateCert response', vc('ValidateCert', vc('Status', '1'), vc('Certificate', vc('Status', '1')))],
  ['Ping request', ping('Ping', ping('HeartbeatInterval', '480'), ping('Folders',
    ping('Folder', ping('Id', 'c1'), ping('Class', 'Contacts')), ping('Folder', ping('Id', 'k1'), ping('Class', 'Calendar'))))],
  ['Ping response', ping('Ping', ping('Status', '2'), ping('Folders', ping('Folder', 'c1'), ping('Folder', 'k1')))],
  ['Ping bounds', ping('Ping', ping('Status', '5'), ping('HeartbeatInterval', '60'), ping('MaxFolders', '200'))],
  ['Provision response with a policy', prov('Provision', prov('Status', '1'), prov('Policies', prov('Policy',
    prov('PolicyType', 'MS-EAS-Provisioning-WBXML'), prov('Status', '1'), prov('PolicyKey', '3942919513'),
    prov('Data', prov('EASProvisionDoc', prov('DevicePasswordEnabled', '0'), prov('AlphanumericDevicePasswordRequired', '0'),
      prov('RequireStorageCardEncryption', '0'), prov('PasswordRecoveryEnabled', '0'), prov('AttachmentsEnabled', '1'),
      prov('MinDevicePasswordLength', '4'), prov('MaxInactivityTimeDeviceLock', '900'), prov('MaxDevicePasswordFailedAttempts', '8'),
      prov('AllowSimpleDevicePassword', '1'), prov('DevicePasswordExpiration'), prov('DevicePasswordHistory', '0'),
      prov('AllowStorageCard', '1'), prov('AllowCamera', '1'), prov('RequireDeviceEncryption', '0'), prov('AllowWiFi', '1'),
      prov('AllowHTMLEmail', '1'), prov('MaxEmailBodyTruncationSize', '-1'), prov('AllowBrowser', '1'),
      prov('UnapprovedInROMApplicationList', prov('ApplicationName', 'Games')),
      prov('ApprovedApplicationList', prov('Hash', 'q1w2e3')))))))],
  ['Provision acknowledgement and remote wipe', prov('Provision', prov('Policies', prov('Policy',
    prov('PolicyType', 'MS-EAS-Provisioning-WBXML'), prov('PolicyKey', '3942919513'), prov('Status', '1'))), prov('RemoteWipe', prov('Status', '1')))],
  ['Search of the GAL with a picture', search('Search', search('Status', '1'), search('Response', search('Store',
    search('Status', '1'),
    search('Result', search('Properties', gal('DisplayName', 'Ann Example'), gal('Phone', '+1 555 0100'), gal('Office', '42/1'),
      gal('Title', 'Engineer'), gal('Company', 'Example'), gal('Alias', 'ann'), gal('FirstName', 'Ann'), gal('LastName', 'Example'),
      gal('HomePhone', '+1 555 0102'), gal('MobilePhone', '+1 555 0103'), gal('EmailAddress', 'ann@example.org'),
      gal('Picture', gal('Status', '1'), gal('Data', bytes(0xff, 0xd8, 0xff, 0xe0))))),
    search('Range', '0-0'), search('Total', '1'))))],
  ['Search of a mailbox', search('Search', search('Store', search('Name', 'Mailbox'),
    search('Query', search('And', as('CollectionId', 'm1'), search('FreeText', 'agenda'),
      search('GreaterThan', email('DateReceived'), search('Value', '2026-01-01T00:00:00.000Z')),
      search('ConversationId', bytes(0x1f, 0x2e)))),
    search('Options', search('Range', '0-9'), search('DeepTraversal'), search('RebuildResults'),
      search('Picture', search('MaxSize', '1024'), search('MaxPictures', '2')),
      asb('BodyPreference', asb('Type', '1')))))],
  ['Settings: out of office, device information, user information, rights templates', settings('Settings',
    settings('Oof', settings('Set', settings('OofState', '2'), settings('StartTime', '2026-07-01T00:00:00.000Z'),
      settings('EndTime', '2026-07-15T00:00:00.000Z'),
      settings('OofMessage', settings('AppliesToInternal'), settings('Enabled', '1'), settings('ReplyMessage', 'Away'), settings('BodyType', 'TEXT')),
      settings('OofMessage', settings('AppliesToExternalKnown'), settings('Enabled', '0')),
      settings('OofMessage', settings('AppliesToExternalUnknown'), settings('Enabled', '0')))),
    settings('DeviceInformation', settings('Set', settings('Model', 'Pixel 9'), settings('IMEI', '3566'), settings('FriendlyName', 'Phone'),
      settings('OS', 'Android 15'), settings('OSLanguage', 'English'), settings('PhoneNumber', '+1 555 0199'),
      settings('UserAgent', 'Android-Mail/2026'), settings('EnableOutboundSMS', '0'), settings('MobileOperator', 'Example'))),
    settings('DevicePassword', settings('Set', settings('Password', 'secret'))),
    settings('UserInformation', settings('Get')),
    settings('RightsManagementInformation', settings('Get')))],
  ['Settings response', settings('Settings', settings('Status', '1'),
    settings('UserInformation', settings('Status', '1'), settings('Get', settings('Accounts', settings('Account',
      settings('AccountId', 'a1'), settings('AccountName', 'Ann'), settings('UserDisplayName', 'Ann Example'), settings('SendDisabled', '0'),
      settings('EmailAddresses', settings('SMTPAddress', 'ann@example.org'), settings('PrimarySmtpAddress', 'ann@example.org')))))),
    settings('RightsManagementInformation', settings('Status', '1'), settings('Get', rm('RightsManagementTemplates',
      rm('RightsManagementTemplate', rm('TemplateID', '{00000000-0000-0000-0000-000000000001}'), rm('TemplateName', 'Do Not Forward'),
        rm('TemplateDescription', 'Recipients can read')))))),
  ],
  ['ItemOperations: fetch a document, empty a folder, move a conversation', io('ItemOperations',
    io('Fetch', io('Store', 'DocumentLibrary'), doclib('LinkId', '\\\\server\\share\\report.docx'),
      io('Options', io('Range', '0-1023'), io('UserName', 'ann'), io('Password', 'secret'))),
    io('Fetch', io('Store', 'Mailbox'), as('CollectionId', 'c1'), as('ServerId', 'c1:7'),
      io('Options', io('Schema', contacts('FileAs')), asb('BodyPreference', asb('Type', '2'), asb('TruncationSize', '5120'), asb('AllOrNone', '0')))),
    io('EmptyFolderContents', as('CollectionId', 'm2'), io('Options', io('DeleteSubFolders'))),
    io('Move', io('ConversationId', bytes(0x1f, 0x2e, 0x3d)), io('DstFldId', 'm3'), io('Options', io('MoveAlways'))))],
  ['ItemOperations response with document properties', io('ItemOperations', io('Status', '1'), io('Response',
    io('Fetch', io('Status', '1'), doclib('LinkId', '\\\\server\\share'), io('Properties',
      doclib('DisplayName', 'share'), doclib('IsFolder', '1'), doclib('CreationDate', '2026-01-01T00:00:00.000Z'),
      doclib('LastModifiedDate', '2026-01-02T00:00:00.000Z'), doclib('IsHidden', '0'), doclib('ContentLength', '0'),
      doclib('ContentType', 'text/plain'), io('Range', '0-9'), io('Total', '10'), io('Data', 'aGVsbG8gd29y'), io('Version', '2026-01-02T00:00:00.000Z'))),
    io('Fetch', io('Status', '1'), as('CollectionId', 'c1'), as('ServerId', 'c1:7'), as('Class', 'Contacts'),
      io('Properties', contacts('FileAs', 'Funk, Don'), asb('Body', asb('Type', '2'), asb('Data', '<p>hi</p>')))),
    io('Move', io('Status', '1'), io('ConversationId', bytes(0x1f, 0x2e, 0x3d)))))],
  ['SendMail and SmartForward', cm('SendMail', cm('ClientId', '1'), cm('AccountId', 'a1'), cm('SaveInSentItems'),
    cm('Mime', utf8('From: ann@example.org\r\nTo: bob@example.org\r\nSubject: Hi\r\n\r\nHello\r\n')))],
  ['SmartForward with a source and forwardees', cm('SmartForward', cm('ClientId', '2'), cm('SaveInSentItems'), cm('ReplaceMime'),
    cm('Source', cm('FolderId', 'm1'), cm('ItemId', 'm1:1'), cm('LongId', 'RgAAAAA'), cm('InstanceId', '2026-01-05T09:00:00.000Z')),
    cm('Forwardees', cm('Forwardee', cm('ForwardeeName', 'Bob'), cm('ForwardeeEmail', 'bob@example.org'))),
    cm('Mime', utf8('Subject: Fwd\r\n\r\nSee below\r\n')))],
];

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'syncpoint-wbxml-'));
});
after(async () => {
  await remove(work, { recursive: true, force: true });
});

test('the messages cover every code page but AirNotify and Find', () => {
  const seen = new Set<string>();
  const visit = (e: WbxmlElement): void => {
    seen.add(e.ns);
    for (const c of e.children) if (typeof c === 'object' && !(c instanceof Uint8Array)) visit(c);
  };
  for (const [, tree] of messages) visit(tree);
  const expected = ['AirSync', 'Contacts', 'Email', 'Calendar', 'Move', 'GetItemEstimate', 'FolderHierarchy', 'MeetingResponse',
    'Tasks', 'ResolveRecipients', 'ValidateCert', 'Contacts2', 'Ping', 'Provision', 'Search', 'GAL', 'AirSyncBase', 'Settings',
    'DocumentLibrary', 'ItemOperations', 'ComposeMail', 'Email2', 'Notes', 'RightsManagement'];
  assert.deepEqual([...seen].sort(), expected.sort());
});

messages.forEach(([name, tree], i) => {
  test(`libwbxml: ${name}`, async (t) => {
    if (missing.length > 0) {
      t.skip(`${missing.join(' and ')} missing: apt-get install libwbxml2-utils`);
      return;
    }
    const asLibwbxml = rename(tree, libwbxmlNames, libwbxmlNs);

    // Our encoder, libwbxml's decoder. wbxml2xml writes CR raw, which any XML parser would fold into
    // LF, so CR is protected before parsing and compared raw.
    const ours = encodeWbxml(tree);
    await writeFile(join(work, `${i}.ours.wbxml`), ours);
    await run(wbxml2xml, ['-m', '0', '-l', 'ACTIVESYNC', '-o', join(work, `${i}.printed.xml`), join(work, `${i}.ours.wbxml`)]);
    const printed = await readFile(join(work, `${i}.printed.xml`), 'utf8');
    assert.equal(printed, toXml(asLibwbxml).replaceAll('&#13;', '\r'));
    assert.deepEqual(rename(fromXml(printed.replaceAll('\r', '&#13;')), ourNames, {}), asLibwbxmlReads(tree));

    // libwbxml's encoder (text kept exactly, leading and trailing spaces too), our decoder.
    const theirs = await libwbxmlWrites(tree);
    assert.deepEqual(decodeWbxml(theirs), tree);
    assert.deepEqual(theirs, ours, 'both encoders write the same bytes');
  });
});
