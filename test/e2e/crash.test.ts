import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { etagOf } from '../../src/content/etag.js';
import type { ClientCommand, CollectionResponse } from '../../src/protocol/sync.js';
import { cardText } from '../crash/cards.js';
import { checkAcknowledged, type ServerRow } from '../crash/checks.js';
import { AckLedger } from '../crash/ledger.js';
import { runCrashScenario } from '../crash/scenario.js';

/**
 * A short sample of the crash run (`npm run crash` does 200 kills): a real server process under strace,
 * SIGKILLed at random moments under four syncing SDK device processes, one of which is killed too (while
 * applying an answer, and at a random moment). The seed is printed; SYNCPOINT_CRASH_SEED=<n> replays the
 * same decisions (the timing differs).
 */
const seed = Number(process.env.SYNCPOINT_CRASH_SEED ?? Date.now() % 1_000_000);

test(`8 SIGKILLs of the server and 3 of devices: nothing acknowledged is lost, every answer follows its fsync, the file stays sound, the devices converge (seed ${seed})`, async () => {
  const report = await runCrashScenario({ kills: 8, seed });
  assert.deepEqual(report.failures, [], `seed ${seed}; files kept in ${report.workDir}`);
  assert.equal(report.kills, 8);
  assert.equal(report.integrityChecks, 9, 'one after each kill and one after the clean shutdown');
  assert.equal(report.tracesChecked, 9, 'each of the nine server lives');
  assert.ok(report.answersTraced >= report.exchangesAcknowledged && report.walSyncs > 0, `seed ${seed}: ${report.answersTraced} answers and ${report.walSyncs} fsyncs traced`);
  assert.equal(report.deviceKills, 3, 'server lives 1, 4 and 7 each see a device killed');
  assert.equal(report.deviceKillsWhileApplying, 2, 'the first and the third inside the transaction applying an answer');
  assert.ok(report.changesAcknowledged > 40, `seed ${seed}: only ${report.changesAcknowledged} changes acknowledged; too thin to mean anything`);
  assert.ok(report.syncsFailed > 0, 'the devices kept syncing through the outages');
  assert.ok(report.syncsSucceeded > report.syncsFailed, `seed ${seed}: only ${report.syncsSucceeded} of ${report.syncsSucceeded + report.syncsFailed} syncs completed; most must, or the run tests restarts only`);
});

// The durability check must see what a kill -9 cannot: a commit acknowledged before it was on disk.
test(`with synchronous = OFF planted, the trace shows answers written before their commit was fsynced (seed ${seed})`, async () => {
  const report = await runCrashScenario({ kills: 1, seed, plant: 'synchronous-off' });
  assert.ok(report.failures.length > 0, 'the planted run failed');
  for (const failure of report.failures) assert.match(failure, /came before the WAL write of a commit was fsynced/);
  assert.equal(report.walSyncs, 0);
  rmSync(report.workDir as string, { recursive: true, force: true });
});

// The checker itself: a check that cannot fail proves nothing.
test('the acknowledgement check tells a lost change from a later or concurrent one', () => {
  const ledger = new AckLedger();
  const card = (version: string) => cardText({ crashId: 'x', version, withUid: false, owner: 'a' });
  let clock = 0;
  const exchange = (device: string, command: ClientCommand) => {
    ledger.noteSent(device, [command], ++clock);
    const etag = command.op === 'delete' || command.op === 'fetch' ? undefined : etagOf(command.data);
    const response: CollectionResponse = { collectionId: 'c', status: 'ok', syncKey: 1, seq: 1, moreAvailable: false, commands: [], fetched: [], results: [{ index: 0, op: command.op, status: 'ok', serverId: 's1', ...(etag ? { etag } : {}) }] };
    return () => ledger.noteAnswered(device, [command], response, ++clock);
  };
  exchange('a', { op: 'add', clientId: 'x', data: card('a.1') })();
  // b's change is in flight while a's second change is sent and acknowledged: either may have committed last.
  const bAnswered = exchange('b', { op: 'change', serverId: 's1', data: card('b.1') });
  exchange('a', { op: 'change', serverId: 's1', data: card('a.2') })();
  bAnswered();
  const holding = (data: string | null, { deleted = false, originDevice = 'a' as string | null } = {}): Map<string, ServerRow> =>
    new Map(data === null ? [] : [['s1', { id: 's1', data: deleted ? null : data, etag: etagOf(data), deletedAt: deleted ? 1 : null, originDevice }]]);
  const problems = (rows: Map<string, ServerRow>) => checkAcknowledged(ledger, rows).problems.join('\n');

  assert.equal(problems(holding(card('a.2'))), '');
  assert.equal(problems(holding(card('b.1'))), '');
  assert.equal(problems(holding(card('a.1'), { deleted: true })), '', 'a delete always comes last');
  assert.equal(problems(holding(card('merged'), { originDevice: null })), '', 'a merge the server made and nobody heard of');
  assert.match(problems(holding(card('a.1'))), /version a\.2 is lost/);
  assert.match(problems(holding(null)), /no such item/);
  assert.match(problems(holding(card('z.9'))), /which no device wrote/);
  assert.match(problems(holding(cardText({ crashId: 'y', version: 'a.3', withUid: false, owner: 'a' }))), /holds y version a\.3/);

  exchange('a', { op: 'delete', serverId: 's1' })();
  assert.match(problems(holding(card('a.2'))), /acknowledged delete, but the item is live again/);
});
