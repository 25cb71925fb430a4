/**
 * Where a server's CPU went, from the profiles `npm run bench:scale -- --cpu-prof DIR` writes (bench/README.md
 * § Profile): `node dist/bench/cpu-profile-summary.js DIR/*.cpuprofile` prints, per profile, the share of the
 * busy time (idle left out) spent in each part (node-postgres, SQLite, our modules by folder, Node's own
 * code, garbage collection) and the functions that spent the most themselves.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  hitCount?: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
}

/** The part of the process a function belongs to, by where its code lives. */
function partOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] === 'pg' || pkg[1]?.startsWith('pg-') ? 'node-postgres' : `package ${pkg[1]}`;
  const ours = /\/dist\/src\/([^/]+(?:\/[^/]+)?)\//.exec(url);
  if (ours) return `src/${ours[1]}`;
  if (url.startsWith('node:')) return 'node internals';
  return url;
}

for (const file of process.argv.slice(2)) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const msPerSample = (profile.endTime - profile.startTime) / 1000 / Math.max(1, profile.samples.length);
  const parts = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  for (const id of profile.samples) {
    const frame = (byId.get(id) as ProfileNode).callFrame;
    if (frame.functionName === '(idle)') continue;
    busy++;
    const part = partOf(frame);
    parts.set(part, (parts.get(part) ?? 0) + 1);
    const name = `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^.*\/(node_modules|dist)\//, '')}:${frame.lineNumber + 1}`;
    functions.set(name, (functions.get(name) ?? 0) + 1);
  }
  const pct = (n: number) => `${((100 * n) / Math.max(1, busy)).toFixed(1).padStart(5)}%`;
  console.log(`\n${file}: ${((busy * msPerSample) / 1000).toFixed(1)} s busy`);
  for (const [part, n] of [...parts].sort((a, b) => b[1] - a[1]).slice(0, 14)) console.log(`  ${pct(n)}  ${part}`);
  console.log('  functions (self time):');
  for (const [name, n] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${pct(n)}  ${name}`);
}
