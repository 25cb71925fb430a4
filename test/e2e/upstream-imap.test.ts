import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { deliverOverLmtp } from '../support/submission.js';
import { asMailClient, startDovecot, type Dovecot } from '../support/dovecot.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { newAccount, type Device } from '../support/sync.js';
import { serverSql } from '../support/database.js';
import { addUpstream, runUpstreams } from '../support/upstreams.js';
import { ImapPoint } from '../../src/connectors/imap/point.js';
import { ImapSession } from '../../src/connectors/imap/session.js';
import { upstreamProtocols } from '../../src/hub/upstreams.js';
import { wrapPoint } from '../../sim/wrap-point.js';

/**
 * IMAP accounts as upstreams (docs/operations.md § Upstream servers, docs/design.md § Mail), against
 * Debian's Dovecot started here on loopback, through a real Syncpoint server: each folder is a mail
 * collection whose items are the messages' metadata and first portions (docs/protocol.md §10.5); new mail,
 * flags set on either side, deletes and expunges go where they should; a flag set on both sides at once
 * is merged; a changed UIDVALIDITY resets the folder with nothing duplicated; and a server that cannot be
 * reached fails the run with a message, losing nothing.
 */
let dovecot: Dovecot;
let server: TestServer;

before(async () => {
  [dovecot, server] = await Promise.all([startDovecot({ users: { ann: 'ann-secret', ben: 'ben-secret' } }), startTestServer()]);
});
after(async () => {
  await Promise.all([server?.stop(), dovecot?.stop()]);
});

let sent = 0;
function message(subject: string, extra: { body?: string; headers?: string } = {}): string {
  sent++;
  return [
    `From: Carol <carol@example.org>`,
    `To: ann@${dovecot.domain}`,
    `Subject: ${subject}`,
    `Date: Mon, 07 Dec 2026 10:${String(sent % 60).padStart(2, '0')}:00 +0000`,
    `Message-ID: <m${sent}.${subject.replace(/\W/g, '')}@example.org>`,
    ...(extra.headers ? [extra.headers] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    extra.body ?? `The text of ${subject}.`,
    '',
  ].join('\r\n');
}

const deliver = (user: string, raw: string) => deliverOverLmtp(dovecot, { from: 'carol@example.org', to: [`${user}@${dovecot.domain}`] }, raw);

/** Another IMAP client of the same account, as a desktop mail program would be. */
const otherClient = <T>(user: string, work: (client: ImapFlow) => Promise<T>) => asMailClient(dovecot, user, work);

/** The UID of the one message with that subject in the open folder. */
async function uidOf(client: ImapFlow, subject: string): Promise<string> {
  const found = await client.search({ subject }, { uid: true });
  assert.ok(found && found.length === 1, `one message with the subject ${subject}`);
  return String(found[0]);
}

interface MailItem {
  subject: string;
  flags: string[];
  messageId: string | null;
  body: { text: string; complete: boolean } | null;
}

const items = (device: Device, collectionId: string) =>
  [...device.view(collectionId).entries()].map(([id, i]) => ({ id, ...(JSON.parse(i.data) as MailItem) })).sort((a, b) => a.subject.localeCompare(b.subject));

async function imapAccount(user: string) {
  const account = await newAccount(server);
  const view = await addUpstream(server, account.accountId, { kind: 'imap', url: `imap://${dovecot.host}:${dovecot.imapPort}`, username: user, password: `${user}-secret` });
  const inbox = view.collections.find((c) => c.collectionName === 'INBOX');
  assert.ok(inbox, `an INBOX collection among ${view.collections.map((c) => c.collectionName).join(', ')}`);
  assert.equal(inbox.kind, 'mail');
  return { ...account, upstream: view, inbox: inbox.collectionId };
}

test('an IMAP folder syncs to a device: messages as mail items, new mail, flags both ways and merged, deletes both ways', async () => {
  await deliver('ann', message('Alpha'));
  await deliver('ann', message('Beta', { body: 'x'.repeat(20_000) }));
  const { accountId, inbox, device } = await imapAccount('ann');
  const phone = device('phone');
  await runUpstreams(server, accountId);
  await phone.pull(inbox);
  let seen = items(phone, inbox);
  assert.deepEqual(
    seen.map((m) => [m.subject, m.flags, m.body?.complete]),
    [
      ['Alpha', [], true],
      ['Beta', [], false],
    ],
  );
  assert.equal(seen[0]?.body?.text.trim(), 'The text of Alpha.');

  // New mail arrives; the next run brings it, and only it.
  await deliver('ann', message('Gamma'));
  await runUpstreams(server, accountId);
  const [got] = await phone.pull(inbox);
  assert.deepEqual(got?.commands.map((c) => c.op), ['add']);
  seen = items(phone, inbox);
  assert.deepEqual(seen.map((m) => m.subject), ['Alpha', 'Beta', 'Gamma']);

  // The phone reads Alpha; another IMAP client flags Beta.
  const alpha = seen[0] as (typeof seen)[number];
  const read = JSON.stringify({ ...JSON.parse(phone.view(inbox).get(alpha.id)?.data as string), flags: ['\\Seen'] });
  await phone.sync(inbox, { commands: [{ op: 'change', serverId: alpha.id, data: read }] });
  await otherClient('ann', async (c) => {
    await c.mailboxOpen('INBOX');
    await c.messageFlagsAdd(await uidOf(c, 'Beta'), ['\\Flagged'], { uid: true });
  });
  await runUpstreams(server, accountId);
  await phone.pull(inbox);
  const flagsThere = await otherClient('ann', async (c) => {
    await c.mailboxOpen('INBOX');
    const out: Record<string, string[]> = {};
    for await (const m of c.fetch('1:*', { envelope: true, flags: true })) out[m.envelope?.subject ?? ''] = [...(m.flags ?? [])].sort();
    return out;
  });
  assert.deepEqual(flagsThere, { Alpha: ['\\Seen'], Beta: ['\\Flagged'], Gamma: [] });
  assert.deepEqual(items(phone, inbox).map((m) => [m.subject, m.flags]), [
    ['Alpha', ['\\Seen']],
    ['Beta', ['\\Flagged']],
    ['Gamma', []],
  ]);

  // Both sides flag Gamma at once, differently: both flags are kept, on both sides.
  const gamma = items(phone, inbox)[2] as (typeof seen)[number];
  await otherClient('ann', async (c) => {
    await c.mailboxOpen('INBOX');
    await c.messageFlagsAdd(await uidOf(c, 'Gamma'), ['\\Answered'], { uid: true });
  });
  const flagged = JSON.stringify({ ...JSON.parse(phone.view(inbox).get(gamma.id)?.data as string), flags: ['\\Flagged'] });
  await phone.sync(inbox, { commands: [{ op: 'change', serverId: gamma.id, data: flagged }] });
  await runUpstreams(server, accountId);
  await phone.pull(inbox);
  assert.deepEqual(items(phone, inbox).find((m) => m.subject === 'Gamma')?.flags, ['\\Answered', '\\Flagged']);
  const gammaThere = await otherClient('ann', async (c) => {
    await c.mailboxOpen('INBOX');
    const found = await c.fetchOne(await uidOf(c, 'Gamma'), { flags: true }, { uid: true });
    return [...((found && found.flags) || [])].sort();
  });
  assert.deepEqual(gammaThere, ['\\Answered', '\\Flagged']);

  // The phone deletes Alpha; the other client expunges Beta.
  await phone.sync(inbox, { commands: [{ op: 'delete', serverId: alpha.id }] });
  await otherClient('ann', async (c) => {
    await c.mailboxOpen('INBOX');
    await c.messageDelete(await uidOf(c, 'Beta'), { uid: true });
  });
  await runUpstreams(server, accountId);
  await phone.pull(inbox);
  assert.deepEqual(items(phone, inbox).map((m) => m.subject), ['Gamma']);
  const left = await otherClient('ann', async (c) => {
    await c.mailboxOpen('INBOX');
    return (await c.fetchAll('1:*', { envelope: true })).map((m) => m.envelope?.subject);
  });
  assert.deepEqual(left, ['Gamma']);
  // A run with nothing new changes nothing.
  await runUpstreams(server, accountId);
  const [quiet] = await phone.pull(inbox);
  assert.deepEqual(quiet?.commands, []);
  // The last message expunged there: the folder is empty, and so is the collection (sim --mail seed 128).
  await otherClient('ann', async (c) => {
    await c.mailboxOpen('INBOX');
    await c.messageDelete(await uidOf(c, 'Gamma'), { uid: true });
  });
  await runUpstreams(server, accountId);
  await phone.pull(inbox);
  assert.deepEqual(items(phone, inbox), []);
});

test('rows the IMAP server sends unasked during a fetch (a flag another client changed) are neither new messages nor second copies', async () => {
  dovecot.addUser('eli', 'eli-secret');
  for (const subject of ['One', 'Two']) await deliver('eli', message(subject));
  const { accountId, inbox, device, upstream } = await imapAccount('eli');
  const phone = device('phone');
  await runUpstreams(server, accountId);
  await deliver('eli', message('Three'));
  // While a run reads the new message, another client flags an old one: Dovecot tells the run's session of
  // that change in an unsolicited FETCH row (UID, FLAGS, MODSEQ, no body) inside the answer to its UID FETCH.
  let flagged = false;
  const session = new ImapSession(upstream.url, { username: 'eli', password: 'eli-secret' }, async (url) => new URL(url).hostname, (options) => {
    const client = new ImapFlow(options);
    const fetchAll = client.fetchAll.bind(client);
    client.fetchAll = async (range, query, fetchOptions) => {
      if (query.source !== undefined && !flagged) {
        flagged = true;
        await otherClient('eli', async (c) => {
          await c.mailboxOpen('INBOX');
          await c.messageFlagsAdd(await uidOf(c, 'One'), ['\\Flagged'], { uid: true });
        });
      }
      return fetchAll(range, query, fetchOptions);
    };
    return client;
  });
  const point = new ImapPoint({ id: upstream.deviceId, name: 'Eli', protocol: upstreamProtocols.imap, collectionId: inbox, session, path: 'INBOX' });
  try {
    const run = await server.hub.runServerDrivenSync(accountId, [point]);
    assert.deepEqual([run.acknowledged, run.failures], [[upstream.deviceId], []]);
  } finally {
    await session.close();
  }
  assert.ok(flagged, 'the other client flagged during the fetch');
  await phone.pull(inbox);
  assert.deepEqual(items(phone, inbox).map((m) => m.subject), ['One', 'Three', 'Two'], 'three messages, once each');
  // The flag is read at the next run, as any change since the cursor.
  await runUpstreams(server, accountId);
  await phone.pull(inbox);
  assert.deepEqual(items(phone, inbox).map((m) => [m.subject, m.flags]), [['One', ['\\Flagged']], ['Three', []], ['Two', []]]);
});

test('an installation whose records name messages the older way (UIDVALIDITY/UID, no folder) lists each folder whole once: nothing duplicated, no flag lost', async () => {
  dovecot.addUser('fio', 'fio-secret');
  for (const subject of ['Old one', 'Old two']) await deliver('fio', message(subject));
  const { accountId, inbox, device, upstream } = await imapAccount('fio');
  const phone = device('phone');
  await runUpstreams(server, accountId);
  // As the store of a server from before remote ids named the folder holds them, and its cursors.
  await serverSql(server, "UPDATE point_records SET remote_id = substr(remote_id, 1, length(remote_id) - 6) WHERE device_id = ? AND remote_id LIKE '%/INBOX'", [upstream.deviceId]);
  await serverSql(server, "UPDATE add_ledger SET client_id = substr(client_id, 1, length(client_id) - 6) WHERE device_id = ? AND client_id LIKE '%/INBOX'", [upstream.deviceId]);
  // The last exchange's results, kept for a replay: JSON text in SQLite, jsonb in PostgreSQL.
  const results = server.database === '' ? "replace(last_results, '/INBOX\"', '\"')" : "replace(last_results::text, '/INBOX\"', '\"')::jsonb";
  await serverSql(server, `UPDATE sync_states SET last_results = ${results} WHERE device_id = ?`, [upstream.deviceId]);
  await serverSql(server, "UPDATE point_keys SET cursor = substr(cursor, 3) WHERE device_id = ? AND cursor LIKE '2 %'", [upstream.deviceId]);
  // An old message changes there, and a new one arrives: the run after the upgrade meets both.
  await otherClient('fio', async (c) => {
    await c.mailboxOpen('INBOX');
    await c.messageFlagsAdd(await uidOf(c, 'Old one'), ['\\Flagged'], { uid: true });
  });
  await deliver('fio', message('New'));
  await runUpstreams(server, accountId);
  await phone.pull(inbox);
  assert.deepEqual(items(phone, inbox).map((m) => [m.subject, m.flags]), [['New', []], ['Old one', ['\\Flagged']], ['Old two', []]]);
  const remoteIds = await serverSql<{ remote_id: string }>(server, "SELECT remote_id FROM point_records WHERE device_id = ? AND remote_id LIKE '%/INBOX'", [upstream.deviceId]);
  assert.equal(remoteIds.length, 3, 'one record a message, each of the form that names the folder');
});

test('a flag written while another client changed the message there is not written over it: refused (UNCHANGEDSINCE), read again and merged', async () => {
  dovecot.addUser('dan', 'dan-secret');
  await deliver('dan', message('Delta'));
  const { accountId, inbox, device, upstream } = await imapAccount('dan');
  const phone = device('phone');
  await runUpstreams(server, accountId);
  await phone.pull(inbox);
  const delta = items(phone, inbox)[0] as { id: string };
  const flagged = JSON.stringify({ ...JSON.parse(phone.view(inbox).get(delta.id)?.data as string), flags: ['\\Flagged'] });
  await phone.sync(inbox, { commands: [{ op: 'change', serverId: delta.id, data: flagged }] });
  // The upstream's point, as a run makes it, with another client answering the message between the report and the write.
  const session = new ImapSession(upstream.url, { username: 'dan', password: 'dan-secret' }, async (url) => new URL(url).hostname);
  const point = new ImapPoint({ id: upstream.deviceId, name: 'Dan', protocol: upstreamProtocols.imap, collectionId: inbox, session, path: 'INBOX' });
  const racing = wrapPoint(point, {
    async apply(outcome, memory) {
      await otherClient('dan', async (c) => {
        await c.mailboxOpen('INBOX');
        await c.messageFlagsAdd(await uidOf(c, 'Delta'), ['\\Answered'], { uid: true });
      });
      return point.apply(outcome, memory);
    },
  });
  try {
    const run = await server.hub.runServerDrivenSync(accountId, [racing]);
    assert.deepEqual([run.online, run.acknowledged, run.failures], [[upstream.deviceId], [], []], 'the write met a change: not acknowledged, and no failure');
  } finally {
    await session.close();
  }
  await runUpstreams(server, accountId);
  await phone.pull(inbox);
  assert.deepEqual(items(phone, inbox).map((m) => m.flags), [['\\Answered', '\\Flagged']]);
  const there = await otherClient('dan', async (c) => {
    await c.mailboxOpen('INBOX');
    const found = await c.fetchOne(await uidOf(c, 'Delta'), { flags: true }, { uid: true });
    return [...((found && found.flags) || [])].sort();
  });
  assert.deepEqual(there, ['\\Answered', '\\Flagged']);
});

test('a message moved to another folder moves at the IMAP server, and is there once, under its new UID, for every device', async () => {
  dovecot.addUser('eve', 'eve-secret');
  await deliver('eve', message('Epsilon'));
  const { accountId, inbox, device, upstream, authorization } = await imapAccount('eve');
  const trash = upstream.collections.find((c) => c.collectionName === 'Trash')?.collectionId as string;
  const [phone, laptop] = [device('phone'), device('laptop')];
  await runUpstreams(server, accountId);
  for (const d of [phone, laptop]) for (const c of [inbox, trash]) await d.pull(c);
  const epsilon = items(phone, inbox)[0] as { id: string };
  const move = (serverId: string) =>
    fetch(`${server.url}/api/v1/collections/${inbox}/items/${serverId}/move`, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify({ device: { id: 'phone' }, to: trash }) });
  const answer = await move(epsilon.id);
  assert.equal(answer.status, 200);
  const moved = (await answer.json()) as { collectionId: string; serverId?: string };
  assert.equal(moved.collectionId, trash);
  assert.ok(moved.serverId, 'the new id');
  const folders = await otherClient('eve', async (c) => {
    const subjects = async (path: string) => {
      await c.mailboxOpen(path);
      return (await c.fetchAll('1:*', { envelope: true }).catch(() => [])).map((m) => m.envelope?.subject);
    };
    return { inbox: await subjects('INBOX'), trash: await subjects('Trash') };
  });
  assert.deepEqual(folders, { inbox: [], trash: ['Epsilon'] });
  // The other device sees it leave the Inbox and arrive in the Trash, once, even after the runs that see the move at the server.
  await runUpstreams(server, accountId);
  await runUpstreams(server, accountId);
  for (const c of [inbox, trash]) await laptop.pull(c);
  assert.deepEqual(items(laptop, inbox), []);
  assert.deepEqual(items(laptop, trash).map((m) => [m.id, m.subject]), [[moved.serverId, 'Epsilon']]);
  // Asked again (its answer lost): the message is no longer where it was.
  assert.equal((await move(epsilon.id)).status, 404);
  // The phone that asked never applied the answer (as when it is lost): its syncs bring it the move too (sim --mail seed 0).
  for (const c of [inbox, trash]) await phone.pull(c);
  assert.deepEqual(items(phone, inbox), []);
  assert.deepEqual(items(phone, trash).map((m) => [m.id, m.subject]), [[moved.serverId, 'Epsilon']]);
  // Moving to a folder of no mail account is refused.
  const other = await newAccount(server);
  assert.equal((await fetch(`${server.url}/api/v1/collections/${trash}/items/${moved.serverId}/move`, { method: 'POST', headers: { authorization: other.authorization, 'content-type': 'application/json' }, body: JSON.stringify({ device: { id: 'x' }, to: inbox }) })).status, 404, 'another account finds nothing');
});

test('a changed UIDVALIDITY resets the folder for the device: the same messages, once each, flags kept', async () => {
  await deliver('ben', message('One'));
  await deliver('ben', message('Two'));
  const { accountId, inbox, device } = await imapAccount('ben');
  const phone = device('phone');
  await runUpstreams(server, accountId);
  await phone.pull(inbox);
  const one = items(phone, inbox)[0] as { id: string };
  const read = JSON.stringify({ ...JSON.parse(phone.view(inbox).get(one.id)?.data as string), flags: ['\\Seen'] });
  await phone.sync(inbox, { commands: [{ op: 'change', serverId: one.id, data: read }] });
  await runUpstreams(server, accountId);
  dovecot.resetUidValidity('ben', 'INBOX');
  await runUpstreams(server, accountId);
  await phone.pull(inbox);
  assert.deepEqual(items(phone, inbox).map((m) => [m.subject, m.flags]), [
    ['One', ['\\Seen']],
    ['Two', []],
  ]);
});

test('an IMAP server that goes away fails the run with a message a person can act on, and what was synced stays', async () => {
  const spare = await startDovecot({ users: { cat: 'cat-secret' } });
  try {
    await deliverOverLmtp(spare, { from: 'carol@example.org', to: [`cat@${spare.domain}`] }, message('Kept'));
    const account = await newAccount(server);
    const view = await addUpstream(server, account.accountId, { kind: 'imap', url: `imap://${spare.host}:${spare.imapPort}`, username: 'cat', password: 'cat-secret' });
    const inbox = view.collections.find((c) => c.collectionName === 'INBOX')?.collectionId as string;
    await runUpstreams(server, account.accountId);
    await spare.stop();
    const [run] = await server.hub.upstreams.run(account.accountId);
    assert.match(run?.error ?? '', /cannot reach/);
    const [listed] = await server.hub.upstreams.list(account.accountId);
    assert.deepEqual([listed?.state, listed?.failures], ['error', 1]);
    const phone = account.device('phone');
    await phone.pull(inbox);
    assert.deepEqual(items(phone, inbox).map((m) => m.subject), ['Kept']);
  } finally {
    await spare.stop();
  }
});
