/**
 * Replica benchmark (`npm run bench:replica`; not a test): whether the SDK's two replicas, in memory
 * (src/sdk/memory-replica.ts) and SQLite on disk (src/sdk/node/sqlite-replica.ts), cost time linear in
 * the items they hold. Each applies an initial sync of N contacts as the sync loop does (pages of the
 * SDK's default window, one transaction a page: for every item a look-up of the version it knows and of
 * the item by server id, then the put; the page's horizon and sync key), then one page of changes to
 * items it holds, for N = 5,000, 10,000, 20,000 and 40,000. A replica linear in N takes twice the time
 * for twice the items: the ratio t(2N)/t(N) is printed for each doubling (about 2; the memory replica
 * this bench was written against copied every row at each page and searched them all for each item, and
 * gave 3.3 to 6.8, 12 s for 40,000 items), with the time per item. The two
 * replicas take turns, the first alternating by round; medians of `--rounds` samples; the process's
 * peak resident memory is printed too. Figures go to bench/results/replica-latest.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { newLocalItem, type Replica } from '../src/sdk/replica.js';
import { openMemoryReplica } from '../src/sdk/memory-replica.js';
import { openSqliteReplica } from '../src/sdk/node/sqlite-replica.js';
import { windowSizeDefault } from '../src/sdk/sync-loop.js';
import { median, rssKiB, writeResults } from './server-process.js';

const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const rounds = flag('rounds', 3);
const sizes = [5_000, 10_000, 20_000, 40_000];
const collection = 'contacts';

const vcard = (i: number, v = 1) => `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bench-${i}\r\nFN:Person ${i} v${v}\r\nN:${i};Person;;;\r\nEMAIL:person${i}@example.org\r\nEND:VCARD\r\n`;

/** Applies N server adds page by page, then a page of changes to items held; the milliseconds it took. */
function applyInitialSync(replica: Replica, n: number): number {
  const started = performance.now();
  let seq = 0;
  for (let from = 0; from < n; from += windowSizeDefault) {
    replica.transaction((tx) => {
      for (let i = from; i < Math.min(n, from + windowSizeDefault); i++) {
        const serverId = `s${i}`;
        seq++;
        if ((tx.knownSeq(collection, serverId) ?? 0) > seq) continue;
        const held = tx.byServerId(collection, serverId);
        tx.put(collection, { ...(held ?? newLocalItem(`l${i}`)), serverId, data: vcard(i), etag: `"e${i}"`, pending: null });
      }
      tx.setHorizon(collection, seq);
      tx.forgetKnownSeqs(collection, seq);
      tx.setSyncKey(collection, from / windowSizeDefault + 1);
    });
  }
  // Changes spread over what is held: each found by its server id among all N.
  replica.transaction((tx) => {
    for (let k = 0; k < windowSizeDefault; k++) {
      const i = Math.floor((k * n) / windowSizeDefault);
      const held = tx.byServerId(collection, `s${i}`);
      if (!held) throw new Error(`benchmark check failed: item s${i} is not held`);
      tx.put(collection, { ...held, data: vcard(i, 2), etag: `"e${i}v2"` });
    }
    tx.setSyncKey(collection, tx.syncKey(collection) + 1);
  });
  const ms = performance.now() - started;
  const all = replica.transaction((tx) => tx.all(collection));
  if (all.length !== n || all.some((item) => item.pending !== null)) throw new Error(`benchmark check failed: the replica holds ${all.length} items of ${n}`);
  return ms;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

function main(): void {
  const work = mkdtempSync(join(tmpdir(), 'syncpoint-replica-bench-'));
  try {
    const kinds = {
      memory: () => openMemoryReplica(),
      sqlite: (name: string) => openSqliteReplica(join(work, `${name}.db`)),
    } as const;
    const samples: Record<string, Record<number, number[]>> = { memory: {}, sqlite: {} };
    for (let r = 0; r < rounds; r++) {
      for (const n of sizes) {
        const order = (['memory', 'sqlite'] as const).slice();
        if (r % 2 === 1) order.reverse();
        for (const kind of order) {
          const replica = kinds[kind](`${kind}-${n}-${r}`);
          try {
            ((samples[kind] as Record<number, number[]>)[n] ??= []).push(applyInitialSync(replica, n));
          } finally {
            replica.close();
          }
        }
      }
    }
    const figures: Record<string, unknown> = { rounds, windowSize: windowSizeDefault, peakRssMiB: Math.round(rssKiB(process.pid) / 1024) };
    for (const kind of ['memory', 'sqlite'] as const) {
      const byN = sizes.map((n) => ({ n, ms: round2(median((samples[kind] as Record<number, number[]>)[n] as number[])) }));
      const doubling = byN.slice(1).map((s, i) => ({ from: (byN[i] as { n: number }).n, to: s.n, ratio: round2(s.ms / (byN[i] as { ms: number }).ms) }));
      figures[kind] = { byN: byN.map((s) => ({ ...s, usPerItem: round2((s.ms * 1000) / s.n) })), doubling };
      console.log(`${kind} replica: ${byN.map((s) => `${s.n} items ${s.ms} ms`).join(', ')}`);
      console.log(`  t(2N)/t(N): ${doubling.map((d) => `${d.to}: ${d.ratio}`).join(', ')} (linear: 2)`);
    }
    console.log(`peak RSS ${figures.peakRssMiB as number} MiB`);
    console.log(`figures written to ${writeResults('replica', figures)}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
