import { Command, InvalidArgumentError } from 'commander';
import { startDatabases, type DatabaseKind } from './database.js';
import { faultKinds, type Fault } from './network.js';
import { mailPlantedBugs, runMailSeed, type MailPlantedBug } from './mail.js';
import { isPlantedBug, plantedBugs } from './planted-bugs.js';
import { runSeeds } from './simulator.js';

/**
 * npm run sim -- --seeds N [--from S] [--verbose] [--plant-bug NAME] [--database postgres]
 *
 * Runs seeds S .. S+N-1 and prints each failing seed with what failed; `--from S --seeds 1` replays
 * seed S exactly. Exits 1 when any seed failed.
 */
const count = (value: string) => {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('a whole number is expected');
  return n;
};
const faultList = (value: string) => {
  const kinds = value.split(',').filter((k) => k !== '');
  const unknown = kinds.find((k) => !(faultKinds as readonly string[]).includes(k));
  if (unknown !== undefined) throw new InvalidArgumentError(`unknown fault ${unknown}; the faults are ${faultKinds.join(', ')}`);
  return kinds as Fault[];
};
const databaseKind = (value: string): DatabaseKind => {
  if (value === 'sqlite') return 'sqlite';
  if (value === 'postgres' || value === 'pg') return 'postgres';
  throw new InvalidArgumentError('sqlite or postgres');
};
const isMailBug = (value: string): value is MailPlantedBug => Object.hasOwn(mailPlantedBugs, value);
const bugName = (value: string) => {
  if (!isPlantedBug(value) && !isMailBug(value)) throw new InvalidArgumentError(`one of: ${[...Object.keys(plantedBugs), ...Object.keys(mailPlantedBugs)].join(', ')}`);
  return value;
};

const program = new Command('sim')
  .description('deterministic fault simulator: devices, a lossy network and a restarting server, checked after every seed')
  .option('--seeds <n>', 'how many seeds to run', count, 100)
  .option('--from <seed>', 'first seed', count, 0)
  .option('--verbose', 'a line per seed, and every finding of a failing seed', false)
  .option('--faults <list>', `only these network faults, comma-separated (default: ${faultKinds.join(',')}); other seeds' runs then differ`, faultList)
  .option('--trace', 'print every user action, exchange and restart (use with --seeds 1)', false)
  .option('--eas-devices <n>', 'give every world this many ActiveSync phones (default: the seed decides, none to two)', count)
  .option('--eas-version <version>', 'the phones speak 14.1 or 16.1 (default: the seed decides)', (v: string) => {
    if (v !== '14.1' && v !== '16.1') throw new InvalidArgumentError('14.1 or 16.1');
    return v;
  })
  .option('--eas-whole-changes', "the phones send every Change whole and one edit of a series per Sync (off: 16.1 Changes carry only the changed fields, as in issue 13's D1, and edits of one series go together, as in D2)", false)
  .option('--eas-stale-edits', 'let every phone send 16.1 occurrence edits and changed-fields-only Changes before it has received what changed on the server (default: the seed decides for each phone; see sim/README.md)')
  .option('--no-eas-stale-edits', 'let no phone send such edits before it has caught up')
  .option('--dav-devices <n>', 'give every world this many DAV clients, alternately a getctag poller and a sync-collection client (default: the seed decides, none to two)', count)
  .option('--upstreams <n>', 'give every world an upstream CardDAV server (1) or none (0) (default: the seed decides, three worlds in ten have one)', count)
  .option('--database <kind>', 'where the server keeps its data: sqlite (a file per seed) or postgres (a throwaway cluster for the run, a database per seed; also pg)', databaseKind, 'sqlite' as DatabaseKind)
  .option('--mail', 'run mail worlds instead: folders from a simulated IMAP server, mail sent through a simulated SMTP server, devices that read, flag, delete, move and send (sim/mail.ts)', false)
  .option('--plant-bug <name>', `run with a deliberately broken component (${Object.keys(plantedBugs).join(', ')})`, bugName)
  .parse();

const options = program.opts<{ mail: boolean; seeds: number; from: number; verbose: boolean; trace: boolean; faults?: Fault[]; plantBug?: ReturnType<typeof bugName>; easDevices?: number; easVersion?: '14.1' | '16.1'; easWholeChanges: boolean; easStaleEdits?: boolean; davDevices?: number; upstreams?: number; database: DatabaseKind }>();
const databases = await startDatabases(options.database);
if (options.mail) {
  const bug = options.plantBug;
  if (bug !== undefined && !isMailBug(bug)) throw new InvalidArgumentError(`with --mail, the planted bugs are ${Object.keys(mailPlantedBugs).join(', ')}`);
  if (bug) console.log(`planted bug ${bug}: ${mailPlantedBugs[bug].description}`);
  const started = performance.now();
  const failed: number[] = [];
  const totals = { exchanges: 0, runs: 0, runsFailed: 0, restarts: 0, lostAnswers: 0, lostCommands: 0, rebuilds: 0, moves: 0, sends: 0, delivered: 0, smtpLostAnswers: 0, deaths: 0, phones: 0, phoneExchanges: 0, phoneMoves: 0, phoneMovesReplayed: 0, phoneSends: 0, invitations: 0, meetingRequests: 0, meetingSucceeded: 0, meetingUnknown: 0, repliesAsked: 0 };
  try {
    for (let seed = options.from; seed < options.from + options.seeds; seed++) {
      const report = await runMailSeed(seed, { databases, plantBug: bug, easPhones: options.easDevices, ...(options.trace ? { trace: (line: string) => console.log(`  ${line}`) } : {}) });
      Object.assign(totals, { phones: totals.phones + report.stats.phones, phoneExchanges: totals.phoneExchanges + report.stats.eas.syncs, phoneMoves: totals.phoneMoves + report.stats.eas.moves, phoneMovesReplayed: totals.phoneMovesReplayed + report.stats.eas.movesReplayed, phoneSends: totals.phoneSends + report.stats.eas.sends });
      const m = report.stats.meetings;
      Object.assign(totals, { invitations: totals.invitations + report.stats.imap.invitations, meetingRequests: totals.meetingRequests + m.requests, meetingSucceeded: totals.meetingSucceeded + m.succeeded, meetingUnknown: totals.meetingUnknown + m.unknown, repliesAsked: totals.repliesAsked + m.repliesAsked });
      Object.assign(totals, { exchanges: totals.exchanges + report.stats.exchanges, runs: totals.runs + report.stats.runs, runsFailed: totals.runsFailed + report.stats.runsFailed, restarts: totals.restarts + report.stats.restarts });
      Object.assign(totals, { lostAnswers: totals.lostAnswers + report.stats.imap.lostAnswers, lostCommands: totals.lostCommands + report.stats.imap.lostCommands, rebuilds: totals.rebuilds + report.stats.imap.rebuilds });
      Object.assign(totals, { moves: totals.moves + report.stats.imap.moves, sends: totals.sends + report.stats.sends, delivered: totals.delivered + report.stats.smtp.delivered, smtpLostAnswers: totals.smtpLostAnswers + report.stats.smtp.lostAnswers, deaths: totals.deaths + report.stats.smtp.deaths });
      if (report.failures.length === 0) continue;
      failed.push(seed);
      console.log(`seed ${seed}: FAIL ${report.failures.slice(0, options.verbose ? undefined : 3).join('; ')}`);
    }
  } finally {
    await databases.close();
  }
  console.log(
    `mail seeds ${options.from}..${options.from + options.seeds - 1}: ${options.seeds} run, ${failed.length} failed${failed.length > 0 ? ` (${failed.join(', ')})` : ''}; ` +
      `${totals.exchanges} exchanges, ${totals.runs} upstream runs (${totals.runsFailed} failed), IMAP ${totals.lostCommands} lost commands, ${totals.lostAnswers} lost answers, ${totals.rebuilds} rebuilt folders, ${totals.moves} moves at IMAP; ${totals.sends} send requests, ${totals.delivered} messages accepted by SMTP, ${totals.smtpLostAnswers} SMTP answers lost, ${totals.deaths} deaths mid-send; ${totals.restarts} server restarts; ${totals.phones} ActiveSync phones (${totals.phoneExchanges} folder syncs, ${totals.phoneMoves} MoveItems of which ${totals.phoneMovesReplayed} answered Status 1, ${totals.phoneSends} SendMail; ${totals.invitations} invitations, ${totals.meetingRequests} MeetingResponse requests, ${totals.meetingSucceeded} answered Status 1, ${totals.meetingUnknown} lost or Status 3, ${totals.repliesAsked} REPLYs asked for); ${options.database}, ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  process.exit(failed.length > 0 ? 1 : 0);
}
const plantBug = options.plantBug;
if (plantBug !== undefined && !isPlantedBug(plantBug)) throw new InvalidArgumentError(`${plantBug} is planted in mail worlds: add --mail`);
if (plantBug) console.log(`planted bug ${plantBug}: ${plantedBugs[plantBug].description}`);
// The cluster runs on its own: stopped on Ctrl-C or a kill too, not left behind on the tmpfs.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void databases.close().finally(() => process.exit(130)));
const started = performance.now();
const summary = await runSeeds({
  from: options.from,
  count: options.seeds,
  verbose: options.verbose,
  plantBug,
  faults: options.faults,
  easDevices: options.easDevices,
  easVersion: options.easVersion,
  davDevices: options.davDevices,
  upstreams: options.upstreams,
  easSwitches: { changedFieldsOnly: !options.easWholeChanges, severalEditsPerSeries: !options.easWholeChanges, editsBeforeCatchingUp: options.easStaleEdits },
  trace: options.trace ? (line) => console.log(`  ${line}`) : undefined,
  databases,
  print: (line) => console.log(line),
}).finally(() => databases.close());
const faults = faultKinds.map((k) => `${k} ${summary.faults[k]}`).join(', ');
const total = faultKinds.reduce((sum, k) => sum + summary.faults[k], 0);
console.log(
  `seeds ${options.from}..${options.from + summary.seeds - 1}: ${summary.seeds} run, ${summary.failedSeeds.length} failed` +
    (summary.failedSeeds.length > 0 ? ` (${summary.failedSeeds.join(', ')})` : '') +
    `; ${summary.exchanges} exchanges, ${total} faults injected (${faults}), ${summary.restarts} server restarts; ${options.database}, ${((performance.now() - started) / 1000).toFixed(1)} s`,
);
process.exitCode = summary.failedSeeds.length > 0 ? 1 : 0;
