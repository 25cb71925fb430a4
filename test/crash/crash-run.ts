import { parseArgs } from 'node:util';
import { runCrashScenario, type CrashReport } from './scenario.js';

/**
 * `npm run crash -- --kills 200 [--seed S] [--devices N] [--plant synchronous-off]`: the full crash
 * scenario (see scenario.ts), with progress on stdout and a final report. Exits 1 when any check failed.
 * `--plant synchronous-off` runs the server with commits that are never fsynced (planted-synchronous-off.ts):
 * the run must then fail, which shows the durability check can see a missing fsync.
 */
const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '200' },
    seed: { type: 'string' },
    devices: { type: 'string', default: '4' },
    plant: { type: 'string' },
  },
});
if (values.plant !== undefined && values.plant !== 'synchronous-off') throw new Error('--plant takes synchronous-off');
const kills = Number(values.kills);
const devices = Number(values.devices);
const seed = values.seed === undefined ? Date.now() % 1_000_000 : Number(values.seed);
for (const [name, value] of [['kills', kills], ['devices', devices], ['seed', seed]] as const) {
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a non-negative integer`);
}

const plant = values.plant === 'synchronous-off' ? { plant: 'synchronous-off' as const } : {};
console.log(`crash run: ${kills} SIGKILLs, ${devices} devices, seed ${seed} (replay with --seed ${seed})${values.plant ? `, planted bug ${values.plant}` : ''}`);
const report = await runCrashScenario({ kills, seed, devices, ...plant, log: (line) => console.log(line) });
console.log(formatReport(report));
process.exitCode = report.failures.length === 0 ? 0 : 1;

function formatReport(r: CrashReport): string {
  const syncs = r.syncsSucceeded + r.syncsFailed;
  const lines = [
    '',
    `seed                        ${r.seed}`,
    `server kills                ${r.kills} (${r.killsMidExchange} with a sync request on the wire)`,
    `device kills                ${r.deviceKills} (${r.deviceKillsWhileApplying} while applying an answer)`,
    `local edits                 ${r.edits} (${r.conflicts} lost a conflict)`,
    `syncs completed             ${r.syncsSucceeded} of ${syncs} (${percent(r.syncsSucceeded, syncs)}; the others met a dead server)`,
    `exchanges acknowledged      ${r.exchangesAcknowledged}`,
    `changes acknowledged        ${r.changesAcknowledged}`,
    `acknowledgements checked    ${r.acknowledgementsChecked}`,
    `integrity checks            ${r.integrityChecks}`,
    `traces checked              ${r.tracesChecked}: ${r.answersTraced} answers, ${r.walSyncs} WAL fsyncs`,
    `live items at the end       ${r.liveItemsAtEnd}`,
    `elapsed                     ${(r.elapsedMs / 1000).toFixed(1)} s`,
    r.failures.length === 0 ? 'result                      all checks passed' : `result                      ${r.failures.length} problems:`,
    ...r.failures.slice(0, 30).map((f) => `  - ${f}`),
  ];
  if (r.failures.length > 30) lines.push(`  ... and ${r.failures.length - 30} more`);
  if (r.workDir) lines.push(`files kept for diagnosis in ${r.workDir} (wire.log has every edit, exchange and kill; traces/ the failing system-call traces)`);
  return lines.join('\n');
}

function percent(part: number, whole: number): string {
  return `${whole === 0 ? 0 : Math.round((100 * part) / whole)}%`;
}
