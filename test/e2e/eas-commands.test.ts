import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  all,
  as,
  asb,
  at,
  basic,
  collectionOf,
  commandsOf,
  easAccount,
  fh,
  folderEntries,
  gie,
  has,
  io,
  maybeText,
  mv,
  prov,
  st,
  textAt,
  toXml,
  type EasAccount,
} from '../support/eas-client.js';
import { getJson, postJson, startTestServer, vcard, type TestServer } from '../support/server.js';

/**
 * Exchange ActiveSync over real HTTP, command by command: the transport (OPTIONS, authentication, both
 * query forms, refusals), Provision, the folder commands, GetItemEstimate, ItemOperations, MoveItems,
 * Settings, Autodiscover, and the isolation of accounts. Sync is in eas-sync.test.ts, Ping in
 * eas-ping.test.ts.
 */
let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server.stop();
});

const easUrl = () => `${server.url}/Microsoft-Server-ActiveSync`;

async function collections(account: EasAccount): Promise<Array<{ id: string; name: string; kind: string; displayName: string }>> {
  const res = await getJson(`${server.url}/api/v1/collections`, account.authorization);
  assert.equal(res.status, 200);
  return res.body.collections;
}

async function device(account: EasAccount, id: string) {
  const res = await getJson(`${server.url}/api/v1/devices`, account.authorization);
  assert.equal(res.status, 200);
  return (res.body.devices as Array<{ id: string; name: string; protocol: string; errors: Array<{ status: string; message: string }> }>).find((d) => d.id === id);
}

test('OPTIONS needs no credentials and names the versions and commands', async () => {
  const account = await easAccount(server);
  const res = await account.eas('Opt1').options(null);
  assert.equal(res.status, 200);
  const versions = (res.headers.get('ms-asprotocolversions') ?? '').split(',').map((v) => v.trim());
  for (const v of ['14.0', '14.1', '16.1']) assert.ok(versions.includes(v), `MS-ASProtocolVersions ${versions} lacks ${v}`);
  const commands = (res.headers.get('ms-asprotocolcommands') ?? '').split(',').map((c) => c.trim());
  for (const c of ['Sync', 'FolderSync', 'FolderCreate', 'FolderUpdate', 'FolderDelete', 'GetItemEstimate', 'Ping', 'ItemOperations', 'MoveItems', 'Settings', 'Provision']) {
    assert.ok(commands.includes(c), `MS-ASProtocolCommands ${commands} lacks ${c}`);
  }
  // Mixed case in the path is the same endpoint.
  const lower = await fetch(`${server.url}/microsoft-server-activesync`, { method: 'OPTIONS' });
  assert.equal(lower.status, 200);
  assert.ok(lower.headers.get('ms-asprotocolversions'));
});

test('POST needs Basic credentials: none or a wrong password is 401, an app password and DOMAIN\\user work', async () => {
  const account = await easAccount(server);
  const client = account.eas('Auth1');
  const anonymous = await client.send('FolderSync', fh('FolderSync', fh('SyncKey', '0')), { authorization: null });
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic /);
  const wrong = await client.send('FolderSync', fh('FolderSync', fh('SyncKey', '0')), { authorization: basic(account.accountName, 'not-the-password') });
  assert.equal(wrong.status, 401);
  const unknownUser = await client.send('FolderSync', fh('FolderSync', fh('SyncKey', '0')), { authorization: basic('nobody-here', account.password) });
  assert.equal(unknownUser.status, 401);

  const created = await postJson(`${server.url}/api/v1/tokens`, account.authorization, { label: 'phone' });
  assert.equal(created.status, 201);
  const token = created.body.token as string;
  const withToken = await client.send('FolderSync', fh('FolderSync', fh('SyncKey', '0')), { authorization: basic(account.accountName, token) });
  assert.equal(withToken.status, 200, withToken.text);
  assert.equal(textAt(withToken.body, 'Status'), '1');
  // The app password belongs to this account only.
  const other = await easAccount(server);
  const stolen = await client.send('FolderSync', fh('FolderSync', fh('SyncKey', '0')), { authorization: basic(other.accountName, token) });
  assert.equal(stolen.status, 401);

  const domain = await client.send('FolderSync', fh('FolderSync', fh('SyncKey', '0')), { authorization: basic(`CORP\\${account.accountName}`, account.password) });
  assert.equal(domain.status, 200, domain.text);
  assert.equal(textAt(domain.body, 'Status'), '1');
  const domainToken = await client.send('FolderSync', fh('FolderSync', fh('SyncKey', '0')), { authorization: basic(`CORP\\${account.accountName}`, token) });
  assert.equal(domainToken.status, 200);
});

test('an unsupported version is 400, an unknown command 501, malformed WBXML 400', async () => {
  const account = await easAccount(server);
  const client = account.eas('Bad1');
  const body = fh('FolderSync', fh('SyncKey', '0'));
  for (const version of ['12.1', '2.5', '17.0']) {
    const res = await client.send('FolderSync', body, { version });
    assert.equal(res.status, 400, `version ${version}: ${res.status} ${res.text}`);
  }
  const noVersion = await fetch(client.url('FolderSync'), { method: 'POST', headers: { authorization: client.authorization } });
  assert.equal(noVersion.status, 400);
  for (const version of ['14.0', '14.1', '16.0', '16.1']) {
    const res = await client.send('FolderSync', body, { version });
    assert.equal(res.status, 200, `version ${version}`);
  }

  const unknown = await client.send('Frobnicate', body);
  assert.equal(unknown.status, 501);
  const validateCert = await client.send('ValidateCert', body);
  assert.equal(validateCert.status, 501, 'not served');
  // A served command with a body of another command is told so in its own Status (InvalidXML).
  const sendMail = await client.send('SendMail', body);
  assert.deepEqual([sendMail.status, sendMail.body?.name, textAt(sendMail.body, 'Status')], [200, 'SendMail', '103']);

  const truncated = await client.send('FolderSync', Uint8Array.of(0x03, 0x01, 0x6a, 0x00, 0x00, 0x07, 0x56));
  assert.equal(truncated.status, 400);
  assert.match(truncated.text, /WBXML/i);
  const garbage = await client.send('FolderSync', Buffer.from('<FolderSync><SyncKey>0</SyncKey></FolderSync>'));
  assert.equal(garbage.status, 400);
  const badDevice = await client.send('FolderSync', body, { deviceId: 'not/valid' });
  assert.equal(badDevice.status, 400);
});

test('the base64 query form works for FolderSync and Sync, with the version and policy key inside it', async () => {
  const account = await easAccount(server);
  const client = account.eas('B64dev1');
  const folders = await client.send('FolderSync', fh('FolderSync', fh('SyncKey', '0')), { base64: true, version: '14.1', policyKey: '123456' });
  assert.equal(folders.status, 200, folders.text);
  assert.equal(textAt(folders.body, 'Status'), '1');
  assert.equal(textAt(folders.body, 'Changes/Count'), '4');
  const sync = await client.send('Sync', as('Sync', as('Collections', as('Collection', as('SyncKey', '0'), as('CollectionId', account.contacts)))), { base64: true, version: '16.1' });
  assert.equal(sync.status, 200, sync.text);
  const collection = collectionOf(sync.body as NonNullable<typeof sync.body>);
  assert.equal(textAt(collection, 'Status'), '1');
  assert.notEqual(textAt(collection, 'SyncKey'), '0');
  // Both forms name the same device: the base64 one's key continues in the plain form.
  const plain = await client.sync({ collectionId: account.contacts, syncKey: textAt(collection, 'SyncKey') });
  assert.equal(textAt(collectionOf(plain), 'Status'), '1');
  // A base64 version we do not speak is refused like the header.
  const old = await client.send('FolderSync', fh('FolderSync', fh('SyncKey', '0')), { base64: true, version: '12.1' });
  assert.equal(old.status, 400);
  // An unknown command code is refused.
  const bogus = await fetch(`${easUrl()}?${encodeURIComponent(Buffer.from([141, 99, 9, 4, 2, 0x41, 0x42, 0, 1, 0x50]).toString('base64'))}`, {
    method: 'POST',
    headers: { authorization: client.authorization },
  });
  assert.equal(bogus.status, 400);
});

test('Provision: phase 1 hands out a temporary key and the policy, phase 2 the final key without Data', async () => {
  const account = await easAccount(server);
  const client = account.eas('Prov1');
  const policyType = 'MS-EAS-Provisioning-WBXML';
  const first = await client.command('Provision', prov('Provision', prov('Policies', prov('Policy', prov('PolicyType', policyType)))));
  assert.equal(textAt(first, 'Status'), '1');
  const policy = at(first, 'Policies/Policy');
  assert.equal(textAt(policy, 'PolicyType'), policyType);
  assert.equal(textAt(policy, 'Status'), '1');
  const temporary = textAt(policy, 'PolicyKey');
  assert.match(temporary, /^\d+$/);
  assert.ok(has(policy, 'Data/EASProvisionDoc'), `no EASProvisionDoc in ${toXml(first)}`);
  assert.equal(maybeText(policy, 'Data/EASProvisionDoc/DevicePasswordEnabled'), '0');

  const second = await client.command(
    'Provision',
    prov('Provision', prov('Policies', prov('Policy', prov('PolicyType', policyType), prov('PolicyKey', temporary), prov('Status', '1')))),
    { policyKey: temporary },
  );
  assert.equal(textAt(second, 'Status'), '1');
  const final = at(second, 'Policies/Policy');
  assert.equal(textAt(final, 'Status'), '1');
  assert.match(textAt(final, 'PolicyKey'), /^\d+$/);
  assert.equal(has(final, 'Data'), false, 'the acknowledgement gets no policy document');
  client.policyKey = textAt(final, 'PolicyKey');
  assert.equal(textAt(await client.folderSync('0'), 'Status'), '1', 'the final key is accepted');

  const unknownType = await client.command('Provision', prov('Provision', prov('Policies', prov('Policy', prov('PolicyType', 'MS-WAP-Provisioning-XML')))));
  assert.equal(textAt(unknownType, 'Policies/Policy/Status'), '3');
});

test('FolderSync: key 0 lists the four default folders, an unchanged key answers Count 0, a new collection is an Add, a retry replays, a bad key is Status 9', async () => {
  const account = await easAccount(server);
  const client = account.eas('Fold1');
  const initial = await client.folderSync('0');
  assert.equal(textAt(initial, 'Status'), '1');
  assert.equal(textAt(initial, 'Changes/Count'), '4');
  const key1 = textAt(initial, 'SyncKey');
  assert.notEqual(key1, '0');
  const folders = folderEntries(initial, 'Add');
  assert.equal(folders.length, 4);
  const byType = Object.fromEntries(folders.map((f) => [f.type, f]));
  assert.equal(byType[9]?.id, account.contacts, 'Type 9: default contacts');
  assert.equal(byType[8]?.id, account.calendar, 'Type 8: default calendar');
  assert.equal(byType[7]?.id, account.tasks, 'Type 7: default tasks');
  assert.equal(byType[10]?.id, account.notes, 'Type 10: default notes');
  for (const f of folders) {
    assert.equal(f.parentId, '0');
    assert.ok(f.name.length > 0);
  }

  const unchanged = await client.folderSync(key1);
  assert.equal(textAt(unchanged, 'Status'), '1');
  assert.equal(textAt(unchanged, 'SyncKey'), key1);
  assert.equal(textAt(unchanged, 'Changes/Count'), '0');

  const made = await postJson(`${server.url}/api/v1/collections`, account.authorization, { name: 'work', kind: 'contacts', displayName: 'Work' });
  assert.equal(made.status, 201);
  const changed = await client.folderSync(key1);
  assert.equal(textAt(changed, 'Status'), '1');
  const key2 = textAt(changed, 'SyncKey');
  assert.notEqual(key2, key1);
  assert.equal(textAt(changed, 'Changes/Count'), '1');
  assert.deepEqual(folderEntries(changed, 'Add'), [{ id: made.body.id, name: 'Work', type: 14, parentId: '0' }]);

  // The answer was lost: the same key again gets the same answer.
  const retry = await client.send('FolderSync', fh('FolderSync', fh('SyncKey', key1)));
  assert.deepEqual(retry.body, changed);
  assert.equal(textAt(await client.folderSync(key2), 'Changes/Count'), '0');

  // A rename and a delete through the API are an Update and a Delete.
  const renamed = await fetch(`${server.url}/api/v1/collections/${made.body.id}`, {
    method: 'PATCH',
    headers: { authorization: account.authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ displayName: 'Office' }),
  });
  assert.equal(renamed.status, 200);
  const update = await client.folderSync(key2);
  assert.deepEqual(folderEntries(update, 'Update'), [{ id: made.body.id, name: 'Office', type: 14, parentId: '0' }]);
  const key3 = textAt(update, 'SyncKey');
  const removed = await fetch(`${server.url}/api/v1/collections/${made.body.id}`, { method: 'DELETE', headers: { authorization: account.authorization } });
  assert.equal(removed.status, 200);
  const deletion = await client.folderSync(key3);
  assert.deepEqual(
    all(deletion, 'Changes/Delete').map((d) => textAt(d, 'ServerId')),
    [made.body.id],
  );

  for (const bad of ['12345', key1]) {
    const answer = await client.folderSync(bad);
    assert.equal(textAt(answer, 'Status'), '9', `key ${bad}: ${toXml(answer)}`);
  }
  // Starting over from 0 works and lists what is there now.
  const again = await client.folderSync('0');
  assert.equal(textAt(again, 'Changes/Count'), '4');
});

test('FolderCreate, FolderUpdate and FolderDelete edit collections, with their statuses', async () => {
  const account = await easAccount(server);
  const client = account.eas('Fold2');
  const key1 = textAt(await client.folderSync('0'), 'SyncKey');
  const create = (key: string, name: string, type: number) =>
    client.command('FolderCreate', fh('FolderCreate', fh('SyncKey', key), fh('ParentId', '0'), fh('DisplayName', name), fh('Type', String(type))));

  const created = await create(key1, 'Family', 14);
  assert.equal(textAt(created, 'Status'), '1', toXml(created));
  const familyId = textAt(created, 'ServerId');
  const key2 = textAt(created, 'SyncKey');
  assert.notEqual(key2, key1);
  const family = (await collections(account)).find((c) => c.id === familyId);
  assert.equal(family?.displayName, 'Family');
  assert.equal(family?.kind, 'contacts');
  // The device's own edit is not sent back to it.
  const next = await client.folderSync(key2);
  assert.equal(textAt(next, 'Status'), '1');
  assert.equal(textAt(next, 'Changes/Count'), '0');
  // Another device hears of it.
  const other = await account.eas('Fold3').folders();
  assert.ok(other.folders.some((f) => f.id === familyId && f.type === 14 && f.name === 'Family'));

  assert.equal(textAt(await create(key1, 'Stale', 14), 'Status'), '9', 'a stale key');
  assert.equal(textAt(await create(key2, 'Mail', 12), 'Status'), '10', 'mail folders are not held');
  assert.equal(textAt(await create(key2, 'Family', 14), 'Status'), '2', 'the name is taken');
  const shared = await create(key2, 'Shared', 13);
  assert.equal(textAt(shared, 'Status'), '1', 'a user calendar');
  let key = textAt(shared, 'SyncKey');
  assert.equal(textAt(await client.folderSync(key), 'Changes/Count'), '0', 'the calendar the device made is not news to it');
  assert.equal((await collections(account)).find((c) => c.displayName === 'Shared')?.kind, 'events');

  const update = await client.command('FolderUpdate', fh('FolderUpdate', fh('SyncKey', key), fh('ServerId', familyId), fh('ParentId', '0'), fh('DisplayName', 'Relatives')));
  assert.equal(textAt(update, 'Status'), '1', toXml(update));
  assert.notEqual(textAt(update, 'SyncKey'), key);
  key = textAt(update, 'SyncKey');
  assert.equal((await collections(account)).find((c) => c.id === familyId)?.displayName, 'Relatives');
  assert.equal(textAt(await client.folderSync(key), 'Changes/Count'), '0');

  const deleteDefault = await client.command('FolderDelete', fh('FolderDelete', fh('SyncKey', key), fh('ServerId', account.contacts)));
  assert.equal(textAt(deleteDefault, 'Status'), '3', 'a default folder cannot be deleted');
  assert.ok((await collections(account)).some((c) => c.id === account.contacts));
  const deleteUnknown = await client.command('FolderDelete', fh('FolderDelete', fh('SyncKey', key), fh('ServerId', 'no-such-folder')));
  assert.equal(textAt(deleteUnknown, 'Status'), '4');
  const deleteStale = await client.command('FolderDelete', fh('FolderDelete', fh('SyncKey', key1), fh('ServerId', familyId)));
  assert.equal(textAt(deleteStale, 'Status'), '9');
  const deleted = await client.command('FolderDelete', fh('FolderDelete', fh('SyncKey', key), fh('ServerId', familyId)));
  assert.equal(textAt(deleted, 'Status'), '1', toXml(deleted));
  assert.equal((await collections(account)).some((c) => c.id === familyId), false);
  assert.equal(textAt(await client.folderSync(textAt(deleted, 'SyncKey')), 'Changes/Count'), '0');
  const listing = await account.eas('Fold4').folders();
  assert.equal(listing.folders.some((f) => f.id === familyId), false);
});

test('GetItemEstimate counts what waits, and answers Status 4, 3 and 2 for a wrong key, an unsynced and an unknown collection', async () => {
  const account = await easAccount(server);
  const client = account.eas('Est1');
  const key = await client.primeSync(account.contacts);
  const native = account.native('native-est');
  for (const n of [1, 2, 3]) await native.put(account.contacts, `est-${n}`, vcard(`est-${n}`, `Estimate ${n}`));

  const estimate = (collectionId: string, syncKey: string | undefined) =>
    client.command(
      'GetItemEstimate',
      gie('GetItemEstimate', gie('Collections', gie('Collection', syncKey !== undefined && as('SyncKey', syncKey), gie('CollectionId', collectionId)))),
    );
  const answer = await estimate(account.contacts, key);
  assert.equal(textAt(answer, 'Response/Status'), '1', toXml(answer));
  assert.equal(textAt(answer, 'Response/Collection/CollectionId'), account.contacts);
  assert.equal(textAt(answer, 'Response/Collection/Estimate'), '3');
  assert.equal(textAt(await estimate(account.contacts, '77'), 'Response/Status'), '4');
  assert.equal(textAt(await estimate(account.calendar, '1'), 'Response/Status'), '3', 'never synced');
  assert.equal(textAt(await estimate(account.calendar, '0'), 'Response/Status'), '3');
  assert.equal(textAt(await estimate('no-such-collection', '1'), 'Response/Status'), '2');

  // Several collections in one request get one Response each, in order.
  const both = await client.command(
    'GetItemEstimate',
    gie(
      'GetItemEstimate',
      gie(
        'Collections',
        gie('Collection', as('SyncKey', key), gie('CollectionId', account.contacts)),
        gie('Collection', as('SyncKey', '1'), gie('CollectionId', 'nope')),
      ),
    ),
  );
  assert.deepEqual(all(both, 'Response').map((r) => textAt(r, 'Status')), ['1', '2']);

  // Once synced, nothing is waiting.
  const synced = await client.pull(account.contacts, key);
  assert.equal(synced.answers.flatMap((a) => commandsOf(a, 'Add')).length, 3);
  assert.equal(textAt(await estimate(account.contacts, synced.key), 'Response/Collection/Estimate'), '0');
});

test('ItemOperations Fetch returns an item with a truncated body, Status 6 for an unknown one', async () => {
  const account = await easAccount(server);
  const client = account.eas('Io1');
  const native = account.native('native-io');
  const longNote = 'This note is much longer than five bytes.';
  const serverId = await native.put(account.contacts, 'io-1', vcard('io-1', 'Fetched Person', `NOTE:${longNote}\r\n`));
  const fetchOne = (collectionId: string, id: string, options = true, store = 'Mailbox') =>
    client.command(
      'ItemOperations',
      io(
        'ItemOperations',
        io(
          'Fetch',
          io('Store', store),
          as('CollectionId', collectionId),
          as('ServerId', id),
          options && io('Options', asb('BodyPreference', asb('Type', '1'), asb('TruncationSize', '5'))),
        ),
      ),
    );
  const answer = await fetchOne(account.contacts, serverId);
  assert.equal(textAt(answer, 'Status'), '1');
  const fetched = at(answer, 'Response/Fetch');
  assert.equal(textAt(fetched, 'Status'), '1', toXml(answer));
  assert.equal(textAt(fetched, 'ServerId'), serverId);
  assert.equal(textAt(fetched, 'CollectionId'), account.contacts);
  assert.equal(textAt(fetched, 'Class'), 'Contacts');
  const properties = at(fetched, 'Properties');
  assert.ok(properties, toXml(answer));
  assert.match(JSON.stringify(toXml(properties)), /Fetched/, 'the contact\'s name is among its properties');
  assert.equal(textAt(properties, 'Body/Truncated'), '1', toXml(answer));
  assert.ok(Buffer.byteLength(maybeText(properties, 'Body/Data') ?? '') <= 5);
  assert.equal(textAt(properties, 'Body/EstimatedDataSize'), String(Buffer.byteLength(longNote)));

  const whole = at(await fetchOne(account.contacts, serverId, false), 'Response/Fetch/Properties');
  assert.equal(maybeText(whole, 'Body/Truncated') ?? '0', '0');
  assert.equal(textAt(whole, 'Body/Data'), longNote);

  assert.equal(textAt(await fetchOne(account.contacts, 'no-such-item'), 'Response/Fetch/Status'), '6');
  assert.equal(textAt(await fetchOne('no-such-collection', serverId), 'Response/Fetch/Status'), '6');
  assert.equal(textAt(await fetchOne(account.calendar, serverId), 'Response/Fetch/Status'), '6', 'the item is not in that collection');
  assert.notEqual(textAt(await fetchOne(account.contacts, serverId, true, 'DocumentLibrary'), 'Response/Fetch/Status'), '1');
});

test('MoveItems moves a contact between folders (Status 3 and DstMsgId); the same folder is Status 4', async () => {
  const account = await easAccount(server);
  const client = account.eas('Move1');
  const made = await postJson(`${server.url}/api/v1/collections`, account.authorization, { name: 'moved-to', kind: 'contacts', displayName: 'Moved to' });
  assert.equal(made.status, 201);
  const target = made.body.id as string;
  const native = account.native('native-move');
  const serverId = await native.put(account.contacts, 'mover', vcard('mover', 'Moving Person'));
  await native.items(target);

  const moveItem = (item: string, from: string, to: string) =>
    client.command('MoveItems', mv('MoveItems', mv('Move', mv('SrcMsgId', item), mv('SrcFldId', from), mv('DstFldId', to))));
  const same = await moveItem(serverId, account.contacts, account.contacts);
  assert.equal(textAt(same, 'Response/Status'), '4');
  assert.equal(textAt(same, 'Response/SrcMsgId'), serverId);

  const moved = await moveItem(serverId, account.contacts, target);
  assert.equal(textAt(moved, 'Response/Status'), '3', toXml(moved));
  assert.equal(textAt(moved, 'Response/SrcMsgId'), serverId);
  const newId = textAt(moved, 'Response/DstMsgId');
  assert.ok(newId.length > 0);

  const source = await native.items(account.contacts);
  assert.equal(source.has(serverId), false, 'gone from the source');
  const destination = await native.items(target);
  assert.match(destination.get(newId)?.data ?? '', /FN:Moving Person/, 'present in the destination under the new id');

  const again = await moveItem(serverId, account.contacts, target);
  assert.equal(textAt(again, 'Response/Status'), '1', 'the item is no longer in the source');
  const toCalendar = await moveItem(newId, target, account.calendar);
  assert.notEqual(textAt(toCalendar, 'Response/Status'), '3', 'a contact cannot move into a calendar');
  const nowhere = await moveItem(newId, target, 'no-such-folder');
  assert.equal(textAt(nowhere, 'Response/Status'), '2');
});

test('Settings: DeviceInformation names the device on the devices page, UserInformation returns the account', async () => {
  const account = await easAccount(server);
  const client = account.eas('Phone42', { deviceType: 'Android' });
  const answer = await client.command(
    'Settings',
    st(
      'Settings',
      st('DeviceInformation', st('Set', st('Model', 'Pixel 9'), st('FriendlyName', "Alice's phone"), st('OS', 'Android 16'), st('UserAgent', 'test-agent/1'))),
      st('UserInformation', st('Get')),
    ),
  );
  assert.equal(textAt(answer, 'Status'), '1');
  assert.equal(textAt(answer, 'DeviceInformation/Status'), '1');
  assert.equal(textAt(answer, 'UserInformation/Status'), '1');
  assert.equal(textAt(answer, 'UserInformation/Get/Accounts/Account/EmailAddresses/PrimarySmtpAddress'), account.accountName, '14.1 answers in accounts');
  const old = await account.eas('Phone43').command('Settings', st('Settings', st('UserInformation', st('Get'))), { version: '14.0' });
  assert.equal(textAt(old, 'UserInformation/Get/EmailAddresses/SMTPAddress'), account.accountName, '14.0 answers with the flat list');
  const listed = await device(account, 'eas-Phone42');
  assert.equal(listed?.name, "Alice's phone");
  assert.equal(listed?.protocol, 'eas');
  // Another request from the device keeps the name.
  await client.folderSync('0');
  assert.equal((await device(account, 'eas-Phone42'))?.name, "Alice's phone");
  // A device that never set a name is shown by the type it first came with.
  assert.equal((await device(account, 'eas-Phone43'))?.name, 'SmartPhone');
  await account.eas('Phone44', { deviceType: 'iPhone' }).folderSync('0');
  assert.equal((await device(account, 'eas-Phone44'))?.name, 'iPhone');
});

test('Autodiscover at a mixed-case path returns the ActiveSync URL; a wrong schema is ErrorCode 601; no credentials 401', async () => {
  const account = await easAccount(server);
  const request = (schema: string) =>
    `<?xml version="1.0" encoding="utf-8"?>\n<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006">` +
    `<Request><EMailAddress>${account.accountName}@example.org</EMailAddress><AcceptableResponseSchema>${schema}</AcceptableResponseSchema></Request></Autodiscover>`;
  const mobileSync = 'http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006';
  const post = (path: string, body: string, authorization: string | null = account.authorization) =>
    fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'text/xml', ...(authorization ? { authorization } : {}) }, body });

  for (const path of ['/AutoDiscover/AutoDiscover.xml', '/autodiscover/autodiscover.xml', '/Autodiscover/Autodiscover.xml']) {
    const res = await post(path, request(mobileSync));
    assert.equal(res.status, 200, path);
    const text = await res.text();
    assert.match(text, /<Type>MobileSync<\/Type>/);
    assert.ok(text.includes(`<Url>${server.url}/Microsoft-Server-ActiveSync</Url>`), text);
    assert.ok(text.includes(`${account.accountName}@example.org`), 'the address asked about');
  }
  const wrong = await post('/AutoDiscover/AutoDiscover.xml', request('http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a'));
  assert.equal(wrong.status, 200);
  assert.match(await wrong.text(), /<ErrorCode>601<\/ErrorCode>/);
  const anonymous = await post('/AutoDiscover/AutoDiscover.xml', request(mobileSync), null);
  assert.equal(anonymous.status, 401);
  const domain = await post('/AutoDiscover/AutoDiscover.xml', request(mobileSync), basic(`EXAMPLE\\${account.accountName}`, account.password));
  assert.equal(domain.status, 200);
  const malformed = await post('/AutoDiscover/AutoDiscover.xml', '<Autodiscover><Request>');
  assert.equal(malformed.status, 400);
});

test('isolation: bob never sees alice\'s folders, and naming her collection is Status 12 / 2 / 6', async () => {
  const alice = await easAccount(server);
  const bob = await easAccount(server);
  const aliceNative = alice.native('alice-native');
  const secretId = await aliceNative.put(alice.contacts, 'secret', vcard('secret', 'Secret Person'));
  const aliceIds = new Set((await collections(alice)).map((c) => c.id));
  // Both use the same DeviceId: devices are per account.
  const bobClient = bob.eas('SharedId1');
  await alice.eas('SharedId1').folderSync('0');
  const bobFolders = await bobClient.folders();
  assert.equal(bobFolders.folders.length, 4);
  for (const f of bobFolders.folders) assert.equal(aliceIds.has(f.id), false, `bob sees alice's folder ${f.id}`);

  const sync = collectionOf(await bobClient.sync({ collectionId: alice.contacts, syncKey: '0' }));
  assert.equal(textAt(sync, 'Status'), '12', toXml(sync));
  const estimate = await bobClient.command(
    'GetItemEstimate',
    gie('GetItemEstimate', gie('Collections', gie('Collection', as('SyncKey', '1'), gie('CollectionId', alice.contacts)))),
  );
  assert.equal(textAt(estimate, 'Response/Status'), '2');
  const fetched = await bobClient.command(
    'ItemOperations',
    io('ItemOperations', io('Fetch', io('Store', 'Mailbox'), as('CollectionId', alice.contacts), as('ServerId', secretId))),
  );
  assert.equal(textAt(fetched, 'Response/Fetch/Status'), '6');
  assert.doesNotMatch(toXml(fetched), /Secret/);
  const moved = await bobClient.command('MoveItems', mv('MoveItems', mv('Move', mv('SrcMsgId', secretId), mv('SrcFldId', alice.contacts), mv('DstFldId', bob.contacts))));
  assert.notEqual(textAt(moved, 'Response/Status'), '3');
  assert.ok((await aliceNative.items(alice.contacts)).has(secretId), 'alice still has her item');
  const deleted = await bobClient.command('FolderDelete', fh('FolderDelete', fh('SyncKey', bobFolders.key), fh('ServerId', alice.contacts)));
  assert.notEqual(textAt(deleted, 'Status'), '1');
  assert.ok((await collections(alice)).some((c) => c.id === alice.contacts));
});
