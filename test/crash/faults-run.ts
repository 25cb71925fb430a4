import { parseArgs } from 'node:util';
import { runFaultScenario } from './faults.js';

/**
 * `npm run faults -- --faults 200 [--seed S] [--devices N] [--servers N] [--pg-every N] [--plant no-catch-up]`:
 * the multi-process fault scenario (faults.ts) on PostgreSQL behind haproxy, with progress and a final
 * report. Exits 1 when any check failed; with the planted bug it must.
 */
const { values } = parseArgs({
  options: {
    faults: { type: 'string', default: '200' },
    seed: { type: 'string' },
    devices: { type: 'string', default: '4' },
    servers: { type: 'string', default: '3' },
    'pg-every': { type: 'string', default: '10' },
    plant: { type: 'string' },
  },
});
if (values.plant !== undefined && values.plant !== 'no-catch-up') throw new Error('--plant takes no-catch-up');
const numbers = {
  faults: Number(values.faults),
  devices: Number(values.devices),
  servers: Number(values.servers),
  pgEvery: Number(values['pg-every']),
  seed: values.seed === undefined ? Date.now() % 1_000_000 : Number(values.seed),
};
for (const [name, value] of Object.entries(numbers)) if (!Number.isInteger(value) || value < (name === 'seed' || name === 'faults' ? 0 : 1)) throw new Error(`--${name} must be a positive integer`);
console.log(`fault run: ${numbers.faults} faults over ${numbers.servers} servers (PostgreSQL stopped -m immediate every ${numbers.pgEvery}), ${numbers.devices} devices, seed ${numbers.seed}`);
const r = await runFaultScenario({ ...numbers, ...(values.plant ? { plant: 'no-catch-up' as const } : {}), log: (line) => console.log(line) });
const syncs = r.syncsSucceeded + r.syncsFailed;
console.log(
  [
    '',
    `seed                        ${r.seed}`,
    `server kills (SIGKILL)      ${r.serverKills}`,
    `PostgreSQL crashes          ${r.databaseCrashes}`,
    `syncs completed             ${r.syncsSucceeded} of ${syncs}`,
    `exchanges acknowledged      ${r.exchangesAcknowledged}`,
    `changes acknowledged        ${r.changesAcknowledged}`,
    `acknowledgements checked    ${r.acknowledgementsChecked}`,
    `push probes delivered       ${r.pushProbes} of ${r.serverKills + r.databaseCrashes + 1}`,
    `live items at the end       ${r.liveItemsAtEnd}`,
    `elapsed                     ${(r.elapsedMs / 1000).toFixed(1)} s`,
    r.failures.length === 0 ? 'result                      all checks passed' : `result                      ${r.failures.length} problems:`,
    ...r.failures.slice(0, 30).map((f) => `  - ${f}`),
    ...(r.workDir ? [`kept for diagnosis: ${r.workDir}`] : []),
  ].join('\n'),
);
process.exitCode = r.failures.length === 0 ? 0 : 1;
