import { parseArgs } from 'node:util';
import { runFaultScenario } from './faults.js';

/**
 * `npm run faults -- --faults 200 [--seed S] [--devices N] [--eas N] [--dav N] [--servers N] [--pg-every N] [--plant no-catch-up] [--keep]`:
 * the multi-process fault scenario (faults.ts) on PostgreSQL behind haproxy (N SDK devices, ActiveSync
 * phones and DAV clients), with progress and a final report. Exits 1 when any check failed; with the planted bug it must.
 */
const { values } = parseArgs({
  options: {
    faults: { type: 'string', default: '200' },
    seed: { type: 'string' },
    devices: { type: 'string', default: '4' },
    eas: { type: 'string', default: '1' },
    dav: { type: 'string', default: '1' },
    servers: { type: 'string', default: '3' },
    'pg-every': { type: 'string', default: '10' },
    plant: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
if (values.plant !== undefined && values.plant !== 'no-catch-up') throw new Error('--plant takes no-catch-up');
const numbers = {
  faults: Number(values.faults),
  devices: Number(values.devices),
  easDevices: Number(values.eas),
  davDevices: Number(values.dav),
  servers: Number(values.servers),
  pgEvery: Number(values['pg-every']),
  seed: values.seed === undefined ? Date.now() % 1_000_000 : Number(values.seed),
};
for (const [name, value] of Object.entries(numbers)) if (!Number.isInteger(value) || value < (['seed', 'faults', 'easDevices', 'davDevices'].includes(name) ? 0 : 1)) throw new Error(`--${name} must be a positive integer`);
console.log(`fault run: ${numbers.faults} faults over ${numbers.servers} servers (PostgreSQL stopped -m immediate every ${numbers.pgEvery}), ${numbers.devices} SDK devices, ${numbers.easDevices} ActiveSync and ${numbers.davDevices} DAV clients, seed ${numbers.seed}`);
const r = await runFaultScenario({ ...numbers, ...(values.plant ? { plant: 'no-catch-up' as const } : {}), keep: values.keep, log: (line) => console.log(line) });
const syncs = r.syncsSucceeded + r.syncsFailed;
console.log(
  [
    '',
    `seed                        ${r.seed}`,
    `server kills (SIGKILL)      ${r.serverKills}`,
    `PostgreSQL crashes          ${r.databaseCrashes}`,
    `SDK syncs completed         ${r.syncsSucceeded} of ${syncs}`,
    `ActiveSync                  ${r.eas.syncsSucceeded} syncs, ${r.eas.requestsRetried} requests sent again (${r.eas.hangUps} hung up on), ${r.eas.reinitializations} re-initializations (Status 3), ${r.eas.refused} edits refused (7/8)`,
    `ActiveSync Pings            ${r.eas.pingsWithChanges} of ${r.eas.pings} answered "changes"`,
    `DAV                         ${r.dav.syncsSucceeded} syncs, ${r.dav.requestsFailed} requests sent again, ${r.dav.preconditionsFailed} 412s, ${r.dav.fullResyncs} full resyncs (403)`,
    `exchanges acknowledged      ${r.exchangesAcknowledged}`,
    `changes acknowledged        ${r.changesAcknowledged} (SDK ${r.changesAcknowledgedBy.sdk}, ActiveSync ${r.changesAcknowledgedBy.eas}, DAV ${r.changesAcknowledgedBy.dav})`,
    `acknowledgements checked    ${r.acknowledgementsChecked}`,
    `push probes delivered       ${r.pushProbes} of ${r.serverKills + r.databaseCrashes + 1}`,
    `Ping probes answered        ${r.pingProbes} of ${r.serverKills + r.databaseCrashes}`,
    `live items at the end       ${r.liveItemsAtEnd}`,
    `elapsed                     ${(r.elapsedMs / 1000).toFixed(1)} s`,
    r.failures.length === 0 ? 'result                      all checks passed' : `result                      ${r.failures.length} problems:`,
    ...r.failures.slice(0, 30).map((f) => `  - ${f}`),
    ...(r.workDir ? [`kept for diagnosis: ${r.workDir}`] : []),
  ].join('\n'),
);
process.exitCode = r.failures.length === 0 ? 0 : 1;
