import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runFaultScenario } from '../crash/faults.js';

/**
 * A short sample of the multi-process fault run (`npm run faults` does 200 faults): three server processes
 * on one PostgreSQL cluster behind haproxy, three syncing SDK device processes, an ActiveSync phone and a
 * CardDAV client, SIGKILLs of servers and an immediate stop of PostgreSQL. SYNCPOINT_FAULT_SEED=<n>
 * replays the same decisions (the timing differs).
 */
const seed = Number(process.env.SYNCPOINT_FAULT_SEED ?? Date.now() % 1_000_000);

test(`3 server SIGKILLs and one PostgreSQL crash behind haproxy: nothing acknowledged is lost, push and Ping come back after each, SDK, ActiveSync and DAV clients converge (seed ${seed})`, async () => {
  const report = await runFaultScenario({ faults: 4, pgEvery: 4, devices: 3, easDevices: 1, davDevices: 1, seed });
  assert.deepEqual(report.failures, [], `seed ${seed}; files kept in ${report.workDir}`);
  assert.equal(report.serverKills, 3);
  assert.equal(report.databaseCrashes, 1);
  assert.equal(report.pushProbes, 5, 'one probe before the faults and one after each');
  assert.equal(report.pingProbes, 4, 'a Ping answered "changes" after each fault');
  assert.ok(report.changesAcknowledged > 40, `seed ${seed}: only ${report.changesAcknowledged} changes acknowledged; too thin to mean anything`);
  const { eas, dav } = report.changesAcknowledgedBy;
  assert.ok(eas > 0 && dav > 0, `seed ${seed}: the ActiveSync phone had ${eas} and the DAV client ${dav} changes acknowledged`);
  assert.equal(report.eas.reinitializations, 0);
  assert.ok(report.acknowledgementsChecked > 0);
});

test(`with catch-up planted away, a change committed on one process does not reach a channel another holds, and the probe says so (seed ${seed})`, async () => {
  const report = await runFaultScenario({ faults: 1, pgEvery: 100, devices: 1, easDevices: 0, davDevices: 0, seed, plant: 'no-catch-up' });
  assert.ok(
    report.failures.some((f) => /push did not bring probe/.test(f)),
    `the planted run must fail its push probes: ${JSON.stringify(report.failures)}`,
  );
});
