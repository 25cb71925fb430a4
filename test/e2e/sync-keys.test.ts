import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { limits } from '../../src/core/limits.js';
import type { CollectionResponse } from '../../src/protocol/sync.js';
import { startTestServer, vcard, type TestServer } from '../support/server.js';
import { accountSeq, add, change, del, Device, newAccount, syncOnce, vcardWithoutUid } from '../support/sync.js';

/**
 * Sync keys end to end: the current key, the previous key (a retried exchange whose answer was lost),
 * unknown keys, key 0 re-initialization and its loop detection.
 */

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.stop();
});

const setup = () => newAccount(server);

function okResults(response: CollectionResponse, count: number) {
  assert.equal(response.results.length, count);
  for (const [i, r] of response.results.entries()) {
    assert.equal(r.index, i);
    assert.equal(r.status, 'ok', `command ${i}: ${r.message ?? ''}`);
  }
}

/** The UIDs and FNs a replica holds, to spot duplicates (the same contact under two server ids). */
function names(device: Device, collectionId: string): string[] {
  return [...device.view(collectionId).values()].map((item) => /\r\nFN:([^\r]*)\r\n/.exec(item.data)?.[1] ?? '?').sort();
}

test('current key: a normal incremental sync moves the key by one and delivers each change once', async () => {
  const { contacts, device } = await setup();
  const a = device('phone-a');
  const b = device('phone-b');

  let r = await a.sync(contacts, { commands: [add('a1', vcard('uid-1', 'One')), add('a2', vcard('uid-2', 'Two'))] });
  assert.equal(r.syncKey, 1);
  okResults(r, 2);
  assert.deepEqual(r.commands, [], 'a device is not sent its own adds back');
  const [one, two] = r.results.map((x) => x.serverId as string) as [string, string];
  assert.notEqual(one, two);
  assert.deepEqual(
    r.results.map((x) => x.clientId),
    ['a1', 'a2'],
  );

  r = await b.sync(contacts);
  assert.equal(r.syncKey, 1);
  assert.equal(r.moreAvailable, false);
  assert.deepEqual(
    r.commands.map((c) => [c.op, c.serverId]),
    [
      ['add', one],
      ['add', two],
    ],
  );
  assert.equal(b.view(contacts).get(one)?.data, vcard('uid-1', 'One'));
  assert.equal(b.view(contacts).get(one)?.etag, a.view(contacts).get(one)?.etag);

  r = await a.sync(contacts, { commands: [change(one, vcard('uid-1', 'One v2')), del(two), add('a3', vcard('uid-3', 'Three'))] });
  assert.equal(r.syncKey, 2);
  okResults(r, 3);
  assert.deepEqual(r.commands, []);
  const three = r.results[2]?.serverId as string;

  r = await b.sync(contacts);
  assert.equal(r.syncKey, 2);
  // Oldest change first, each item once, with the op the client needs.
  assert.deepEqual(
    r.commands.map((c) => [c.op, c.serverId]),
    [
      ['change', one],
      ['delete', two],
      ['add', three],
    ],
  );

  // Nothing new: an idle exchange keeps its key (docs/protocol.md §5.1) and no command repeats.
  r = await b.sync(contacts);
  assert.equal(r.syncKey, 2);
  assert.deepEqual(r.commands, []);

  r = await b.sync(contacts, { commands: [change(three, vcard('uid-3', 'Three by B'))] });
  assert.equal(r.syncKey, 3);
  okResults(r, 1);
  r = await a.sync(contacts);
  assert.equal(r.syncKey, 3);
  assert.deepEqual(
    r.commands.map((c) => [c.op, c.serverId]),
    [['change', three]],
  );
  assert.deepEqual(a.snapshot(contacts), b.snapshot(contacts));
  assert.deepEqual(names(a, contacts), ['One v2', 'Three by B']);
});

test('previous key: a retried exchange gets the same answer and its commands are not applied twice', async () => {
  const { accountId, authorization, contacts, device } = await setup();
  const a = device('phone-a');
  const b = device('phone-b');
  const c = device('tablet-c');
  let r = await a.sync(contacts, { commands: [add('x', vcard('uid-x', 'X')), add('y', vcard('uid-y', 'Y'))] });
  const [x, y] = r.results.map((res) => res.serverId as string) as [string, string];
  await b.pull(contacts);
  await c.pull(contacts);
  // Server changes waiting for A, so the answer has something in it.
  await b.sync(contacts, { commands: [add('b1', vcard('uid-b', 'From B')), change(x, vcard('uid-x', 'X by B'))] });

  const key = a.key(contacts);
  const commands = [add('n1', vcardWithoutUid('No UID')), add('z1', vcard('uid-z', 'Z')), change(y, vcard('uid-y', 'Y by A'))];
  const first = await syncOnce(server, authorization, a.id, { collectionId: contacts, syncKey: key, commands });
  assert.equal(first.syncKey, key + 1);
  okResults(first, 3);
  assert.deepEqual(first.commands.map((cmd) => cmd.op).sort(), ['add', 'change']);
  const seqAfterFirst = await accountSeq(server, accountId);

  // The answer is lost. Another device already sees the commands' effects, once.
  r = await c.sync(contacts);
  assert.deepEqual(names(c, contacts), ['From B', 'No UID', 'X by B', 'Y by A', 'Z']);

  const second = await syncOnce(server, authorization, a.id, { collectionId: contacts, syncKey: key, commands });
  assert.deepEqual(second, first, 'the retry is answered exactly as the lost attempt was');
  assert.equal(await accountSeq(server, accountId), seqAfterFirst, 'nothing was written again');

  r = await c.sync(contacts);
  assert.deepEqual(r.commands, [], 'the other device sees no second add or change');
  const fresh = device('fresh');
  await fresh.pull(contacts);
  assert.deepEqual(names(fresh, contacts), ['From B', 'No UID', 'X by B', 'Y by A', 'Z']);

  // The client applies the answer and carries on with the new key.
  a.apply(contacts, commands, second);
  assert.deepEqual(a.snapshot(contacts), fresh.snapshot(contacts));
  r = await a.sync(contacts);
  assert.equal(r.syncKey, key + 1, 'nothing new: the key stays');
  assert.deepEqual(r.commands, []);
});

test('previous key: a retried change does not overwrite a change another device made in between', async () => {
  const { authorization, contacts, device } = await setup();
  const a = device('phone-a');
  const c = device('tablet-c');
  const r0 = await a.sync(contacts, { commands: [add('y', vcard('uid-y', 'Y'))] });
  const y = r0.results[0]?.serverId as string;
  await c.pull(contacts);

  const key = a.key(contacts);
  const commands = [change(y, vcard('uid-y', 'Y by A'))];
  const first = await syncOnce(server, authorization, a.id, { collectionId: contacts, syncKey: key, commands });
  okResults(first, 1);
  let r = await c.sync(contacts);
  assert.deepEqual(
    r.commands.map((cmd) => [cmd.op, cmd.serverId]),
    [['change', y]],
    'C receives A’s change',
  );
  r = await c.sync(contacts, { commands: [change(y, vcard('uid-y', 'Y by C'))] });
  okResults(r, 1);

  const second = await syncOnce(server, authorization, a.id, { collectionId: contacts, syncKey: key, commands });
  assert.equal(second.syncKey, first.syncKey);
  assert.deepEqual(second.results, first.results, 'the recorded outcome answers the retry');
  // The command is not applied again, so C's newer edit stands. The replay answers for the span of the
  // answer it replaces (nothing for A), says more is available, and the next exchange brings C's edit.
  assert.deepEqual(second.commands, []);
  assert.equal(second.moreAvailable, true);
  const next = await syncOnce(server, authorization, a.id, { collectionId: contacts, syncKey: second.syncKey });
  assert.deepEqual(
    next.commands.map((cmd) => [cmd.op, cmd.serverId, cmd.op === 'delete' ? null : cmd.data]),
    [['change', y, vcard('uid-y', 'Y by C')]],
  );
  r = await c.sync(contacts);
  assert.deepEqual(r.commands, [], 'C sees no second change from the retry');
  assert.equal(c.view(contacts).get(y)?.data, vcard('uid-y', 'Y by C'));
});

test('previous key: a retry asking for a smaller window still covers the lost answer, so the next key means one place', async () => {
  const { contacts, device } = await setup();
  const writer = device('writer');
  await writer.sync(contacts, { commands: Array.from({ length: 8 }, (_, i) => add(`c${i}`, vcard(`uid-${i}`, `Contact ${i}`))) });
  const phone = device('phone');
  await phone.sync(contacts, { windowSize: 1 });
  const key = phone.key(contacts);
  const first = await syncOnce(server, phone.authorization, phone.id, { collectionId: contacts, syncKey: key, windowSize: 100 });
  assert.equal(first.commands.length, 7);
  assert.equal(first.moreAvailable, false);
  // The answer is lost (the device may still have taken it: an ActiveSync phone's empty Sync and its
  // retry in full ask for different windows); the retry asks for a smaller window.
  const second = await syncOnce(server, phone.authorization, phone.id, { collectionId: contacts, syncKey: key, windowSize: 5 });
  assert.deepEqual(second, first, 'the retry covers the same span as the lost answer');
  // Whichever answer the device applied, the key it sends next finds nothing missing and nothing twice.
  phone.apply(contacts, [], first);
  const next = await phone.sync(contacts);
  assert.deepEqual(next.commands, []);
  assert.deepEqual(phone.snapshot(contacts), writer.snapshot(contacts));
});

test('previous key: an add the retry leaves out is withdrawn, unless another device changed its item since', async () => {
  const { accountId, authorization, contacts, device } = await setup();
  const phone = device('phone');
  const other = device('other');
  await phone.pull(contacts);
  await other.pull(contacts);
  const key = phone.key(contacts);
  const first = [add('gone', vcard('uid-gone', 'Deleted before the answer came')), add('kept', vcard('uid-kept', 'Edited elsewhere'))];
  const lost = await syncOnce(server, authorization, phone.id, { collectionId: contacts, syncKey: key, commands: first });
  okResults(lost, 2);
  const [gone, kept] = lost.results.map((r) => r.serverId as string) as [string, string];
  // The answer is lost; another device sees both and edits one.
  await other.sync(contacts);
  await other.sync(contacts, { commands: [change(kept, vcard('uid-kept', 'Edited elsewhere, by other'))] });
  // The phone's user deleted both before the retry, which carries neither add.
  const retry = await syncOnce(server, authorization, phone.id, { collectionId: contacts, syncKey: key });
  assert.deepEqual(retry.results, []);
  assert.deepEqual(
    retry.commands.map((c) => [c.op, c.serverId]),
    [['change', kept]],
    'the item edited elsewhere is sent to the phone; the other is withdrawn',
  );
  const seen = await other.sync(contacts);
  assert.deepEqual(seen.commands.map((c) => [c.op, c.serverId]), [['delete', gone]], 'the withdrawn add reaches the other device as a delete');
  // A late copy of the first attempt lands on what the add made and writes nothing.
  const seq = await accountSeq(server, accountId);
  await syncOnce(server, authorization, phone.id, { collectionId: contacts, syncKey: key, commands: first });
  assert.equal(await accountSeq(server, accountId), seq);
  assert.deepEqual((await other.sync(contacts)).commands, []);
});

test('previous key: an add the retry left out only for room, sent in the next exchange, is made again', async () => {
  const { authorization, contacts, device } = await setup();
  const phone = device('phone');
  const other = device('other');
  await phone.pull(contacts);
  await other.pull(contacts);
  const key = phone.key(contacts);
  const card = vcard('uid-later', 'Left out of the retry');
  const lost = await syncOnce(server, authorization, phone.id, { collectionId: contacts, syncKey: key, commands: [add('later', card)] });
  okResults(lost, 1);
  const first = lost.results[0]?.serverId as string;
  // The answer is lost; the retry is full of other edits and leaves the add for the next exchange.
  const retry = await syncOnce(server, authorization, phone.id, { collectionId: contacts, syncKey: key });
  const next = await syncOnce(server, authorization, phone.id, { collectionId: contacts, syncKey: retry.syncKey, commands: [add('later', card)] });
  okResults(next, 1);
  const made = next.results[0];
  assert.ok(made?.etag !== undefined && made.serverId !== undefined, `the add is stored, not answered as deleted: ${JSON.stringify(next.results)}`);
  assert.ok(!next.commands.some((c) => c.op === 'delete' && c.serverId === made.serverId), 'the phone is not told to delete what it just added');
  await other.sync(contacts);
  assert.deepEqual(names(other, contacts), ['Left out of the retry']);
  assert.notEqual(made.serverId, first, 'the withdrawn item stays deleted; the add made a new one');
});

test('previous key: a retry carrying an edited version of a command applies it as new', async () => {
  const { authorization, contacts, device } = await setup();
  const a = device('phone-a');
  const c = device('tablet-c');
  const r0 = await a.sync(contacts, { commands: [add('y', vcard('uid-y', 'Y'))] });
  const y = r0.results[0]?.serverId as string;
  await c.pull(contacts);

  const key = a.key(contacts);
  const first = await syncOnce(server, authorization, a.id, {
    collectionId: contacts,
    syncKey: key,
    commands: [change(y, vcard('uid-y', 'Y edit 1')), add('z', vcard('uid-z', 'Z edit 1'))],
  });
  okResults(first, 2);
  const z = first.results[1]?.serverId as string;

  // The user edits both before the retry goes out.
  const edited = [change(y, vcard('uid-y', 'Y edit 2')), add('z', vcard('uid-z', 'Z edit 2'))];
  const second = await syncOnce(server, authorization, a.id, { collectionId: contacts, syncKey: key, commands: edited });
  okResults(second, 2);
  assert.equal(second.syncKey, first.syncKey);
  assert.notEqual(second.results[0]?.etag, first.results[0]?.etag, 'the edited change was applied');
  assert.equal(second.results[1]?.serverId, z, 'the add is matched to the same item by its UID');
  assert.notEqual(second.results[1]?.etag, first.results[1]?.etag);

  await c.sync(contacts);
  assert.deepEqual(names(c, contacts), ['Y edit 2', 'Z edit 2']);
  assert.equal(c.view(contacts).get(z)?.data, vcard('uid-z', 'Z edit 2'));
  a.apply(contacts, edited, second);
  assert.deepEqual(a.snapshot(contacts), c.snapshot(contacts));
});

test('previous key: an edited retry of an Add without UID lands on the item the first attempt created', async () => {
  const { authorization, contacts, device } = await setup();
  const a = device('phone-a');
  const c = device('tablet-c');
  await a.sync(contacts);
  const key = a.key(contacts);
  const first = await syncOnce(server, authorization, a.id, { collectionId: contacts, syncKey: key, commands: [add('n', vcardWithoutUid('Nameless 1'))] });
  okResults(first, 1);
  // The answer is lost and the user edits the card before the retry goes out; no UID can match it.
  const edited = [add('n', vcardWithoutUid('Nameless 2'))];
  const second = await syncOnce(server, authorization, a.id, { collectionId: contacts, syncKey: key, commands: edited });
  okResults(second, 1);
  assert.equal(second.results[0]?.serverId, first.results[0]?.serverId, 'the same item, not a twin');
  assert.notEqual(second.results[0]?.etag, first.results[0]?.etag, 'and it holds the edit');
  await c.sync(contacts);
  assert.deepEqual(names(c, contacts), ['Nameless 2']);
});

test('previous key: an Add edited between attempts meets an edit made elsewhere meanwhile as a concurrent change, not an overwrite', async () => {
  const { authorization, contacts, device } = await setup();
  const a = device('phone-a');
  const b = device('tablet-b');
  await a.sync(contacts);
  const key = a.key(contacts);
  const first = await syncOnce(server, authorization, a.id, { collectionId: contacts, syncKey: key, commands: [add('n', vcard('uid-n', 'Ann', 'NOTE:first\r\n'))] });
  okResults(first, 1);
  const id = first.results[0]?.serverId as string;
  // The answer is lost. Another device gets the card and adds a phone number.
  await b.pull(contacts);
  okResults(await b.sync(contacts, { commands: [change(id, vcard('uid-n', 'Ann', 'NOTE:first\r\nTEL:+1 555 0100\r\n'))] }), 1);
  // The user edits the note before the retry goes out: an edit of the version the first attempt carried.
  const second = await syncOnce(server, authorization, a.id, { collectionId: contacts, syncKey: key, commands: [add('n', vcard('uid-n', 'Ann', 'NOTE:second\r\n'))] });
  okResults(second, 1);
  assert.equal(second.results[0]?.serverId, id);
  await b.sync(contacts);
  const truth = b.view(contacts).get(id)?.data ?? '';
  assert.match(truth, /NOTE:second/, 'the retried edit is in');
  assert.match(truth, /TEL:\+1 555 0100/, 'and so is the other device\'s, merged');
});

test('retried previous key twice in a row: the second lost answer is replaced too', async () => {
  const { accountId, authorization, contacts, device } = await setup();
  const a = device('phone-a');
  const b = device('phone-b');
  const r0 = await a.sync(contacts, { commands: [add('x', vcard('uid-x', 'X'))] });
  const x = r0.results[0]?.serverId as string;
  await b.pull(contacts);
  await b.sync(contacts, { commands: [add('b1', vcard('uid-b', 'From B'))] });

  const key = a.key(contacts);
  const commands = [add('n1', vcardWithoutUid('No UID')), change(x, vcard('uid-x', 'X v2'))];
  const attempts: CollectionResponse[] = [];
  for (let i = 0; i < 3; i++) {
    attempts.push(await syncOnce(server, authorization, a.id, { collectionId: contacts, syncKey: key, commands }));
    if (i === 0) okResults(attempts[0] as CollectionResponse, 2);
  }
  const seq = await accountSeq(server, accountId);
  assert.deepEqual(attempts[1], attempts[0]);
  assert.deepEqual(attempts[2], attempts[0]);
  assert.equal((attempts[0] as CollectionResponse).syncKey, key + 1);
  assert.deepEqual(
    (attempts[0] as CollectionResponse).commands.map((cmd) => cmd.op),
    ['add'],
    'B’s add is the one server change',
  );

  const r = await b.sync(contacts);
  assert.deepEqual(r.commands.map((cmd) => cmd.op).sort(), ['add', 'change']);
  assert.deepEqual(names(b, contacts), ['From B', 'No UID', 'X v2']);

  a.apply(contacts, commands, attempts[2] as CollectionResponse);
  const next = await a.sync(contacts);
  assert.equal(next.syncKey, key + 1, 'nothing new: the key stays');
  assert.deepEqual(next.commands, []);
  assert.equal(await accountSeq(server, accountId), seq);
  assert.deepEqual(a.snapshot(contacts), b.snapshot(contacts));
});

test('unknown or future key: invalidSyncKey with key 0, no command applied, then key 0 re-initializes', async () => {
  const { accountId, authorization, contacts, device } = await setup();
  const a = device('phone-a');
  const observer = device('observer');
  await a.sync(contacts, { commands: [add('x', vcard('uid-x', 'X'))] });
  // Two more keys: exchanges that move something (an idle one keeps its key).
  const tmp = (await a.sync(contacts, { commands: [add('tmp', vcard('uid-tmp', 'Tmp'))] })).results[0]?.serverId as string;
  await a.sync(contacts, { commands: [del(tmp)] });
  assert.equal(a.key(contacts), 3);
  await observer.pull(contacts);
  const seq = await accountSeq(server, accountId);

  const sneaky = [add('n', vcardWithoutUid('Should not exist')), add('u', vcard('uid-u', 'Nor this'))];
  const cases: Array<[string, string, number]> = [
    ['never synced', 'ghost', 5],
    ['future key', a.id, 9],
    ['key before the previous one', a.id, 1],
  ];
  for (const [what, deviceId, syncKey] of cases) {
    const r = await syncOnce(server, authorization, deviceId, { collectionId: contacts, syncKey, commands: sneaky });
    assert.equal(r.status, 'invalidSyncKey', what);
    assert.equal(r.syncKey, 0, what);
    assert.deepEqual(r.commands, [], what);
    assert.deepEqual(r.results, [], what);
    assert.deepEqual(r.fetched, [], what);
    assert.equal(r.moreAvailable, false, what);
  }
  assert.equal(await accountSeq(server, accountId), seq, 'no command was applied');
  const seen = await observer.sync(contacts);
  assert.deepEqual(seen.commands, []);

  // Re-initialize as the status asks. A new device starts at key 1; one with state gets a key it was
  // never issued before, so none of its old keys can become valid again.
  for (const [deviceId, keyBefore] of [['ghost', 0], [a.id, a.key(contacts)]] as const) {
    const r = await syncOnce(server, authorization, deviceId, { collectionId: contacts, syncKey: 0 });
    assert.equal(r.status, 'ok');
    assert.equal(r.syncKey, keyBefore + 1);
    assert.deepEqual(
      r.commands.map((cmd) => [cmd.op, cmd.op === 'delete' ? null : cmd.data]),
      [['add', vcard('uid-x', 'X')]],
    );
    const next = await syncOnce(server, authorization, deviceId, { collectionId: contacts, syncKey: r.syncKey });
    assert.equal(next.status, 'ok');
    assert.equal(next.syncKey, r.syncKey + 1, 'the first exchange after key 0 moves the key, even with nothing new (docs/protocol.md §5.1)');
  }
});

test('re-init loop: the reinitLoopCount-th re-initialization inside the window is flagged', async () => {
  const { authorization, contacts } = await setup();
  const first = await syncOnce(server, authorization, 'looper', { collectionId: contacts, syncKey: 0 });
  assert.equal(first.warning, undefined, 'a first initialization is not a re-initialization');
  let key = first.syncKey;
  for (let i = 1; i <= limits.reinitLoopCount; i++) {
    const normal = await syncOnce(server, authorization, 'looper', { collectionId: contacts, syncKey: key });
    assert.equal(normal.warning, undefined);
    const r = await syncOnce(server, authorization, 'looper', { collectionId: contacts, syncKey: 0 });
    assert.equal(r.status, 'ok');
    assert.equal(r.syncKey, normal.syncKey + 1, 'a re-initialization issues a key never issued before');
    key = r.syncKey;
    if (i < limits.reinitLoopCount) assert.equal(r.warning, undefined, `re-initialization ${i}`);
    else assert.equal(r.warning, 'reinitLoop', `re-initialization ${i}`);
  }
  // The warning is per (device, collection): another device is not flagged.
  const other = await syncOnce(server, authorization, 'calm', { collectionId: contacts, syncKey: 0 });
  assert.equal(other.warning, undefined);
});

test('key 0 from a device that already has state: full re-initialization, Adds matched by UID', async () => {
  const { contacts, device } = await setup();
  const a = device('phone-a');
  const b = device('phone-b');
  const originals = [vcard('uid-1', 'One'), vcard('uid-2', 'Two'), vcard('uid-3', 'Three')];
  let r = await a.sync(contacts, { commands: originals.map((data, i) => add(`c${i}`, data)) });
  const ids = r.results.map((res) => res.serverId as string);
  await b.sync(contacts, { commands: [add('b', vcard('uid-b', 'From B'))] });
  await a.sync(contacts);
  await a.sync(contacts);
  await b.pull(contacts);
  assert.equal(b.view(contacts).size, 4);

  // A loses its state and re-initializes, sending its contacts again with new client ids (one edited).
  a.reset(contacts);
  const resend = [add('n0', originals[0] as string), add('n1', vcard('uid-2', 'Two edited')), add('n2', originals[2] as string)];
  r = await a.sync(contacts, { commands: resend });
  assert.equal(r.status, 'ok');
  okResults(r, 3);
  assert.deepEqual(
    r.results.map((res) => res.serverId),
    ids,
    'each Add takes the id of the item with its UID',
  );
  // Everything in the collection reaches the device: the others' items and its own old ones.
  assert.ok(r.commands.every((cmd) => cmd.op === 'add'));
  assert.deepEqual(names(a, contacts), ['From B', 'One', 'Three', 'Two edited']);

  r = await b.sync(contacts);
  assert.deepEqual(
    r.commands.map((cmd) => [cmd.op, cmd.serverId]),
    [['change', ids[1]]],
    'B sees the edit and no duplicate',
  );
  assert.deepEqual(names(b, contacts), ['From B', 'One', 'Three', 'Two edited']);
  assert.deepEqual(a.snapshot(contacts), b.snapshot(contacts));
});

test('a contact without UID added, answer lost, key-0 exchange retried: no duplicate', async () => {
  const { accountId, authorization, contacts, device } = await setup();
  const observer = device('observer');
  const commands = [add('local-1', vcardWithoutUid('Anonymous')), add('local-2', vcardWithoutUid('Nameless'))];
  const first = await syncOnce(server, authorization, 'new-phone', { collectionId: contacts, syncKey: 0, commands });
  okResults(first, 2);
  const seq = await accountSeq(server, accountId);
  const second = await syncOnce(server, authorization, 'new-phone', { collectionId: contacts, syncKey: 0, commands });
  okResults(second, 2);
  assert.deepEqual(second.results, first.results, 'the clientId mapping was recorded and is answered again');
  assert.equal(await accountSeq(server, accountId), seq);
  await observer.pull(contacts);
  assert.deepEqual(names(observer, contacts), ['Anonymous', 'Nameless']);

  // The same after a device with an ongoing state re-initializes: its key-0 retry is matched too.
  const phone = new Device(server, authorization, 'new-phone');
  phone.apply(contacts, commands, second);
  await phone.sync(contacts);
  const again = [add('local-3', vcardWithoutUid('Third'))];
  const r1 = await syncOnce(server, authorization, phone.id, { collectionId: contacts, syncKey: 0, commands: again });
  const r2 = await syncOnce(server, authorization, phone.id, { collectionId: contacts, syncKey: 0, commands: again });
  assert.deepEqual(r2.results, r1.results);
  await observer.sync(contacts);
  assert.deepEqual(names(observer, contacts), ['Anonymous', 'Nameless', 'Third']);
});
