import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tracePoints } from './syscall-trace.js';
import { checkWalSyncedBeforeAnswers } from './wal-sync-check.js';

// Lines captured from `strace -f --seccomp-bpf -qq -tt -yy -s 16` on `syncpoint serve` (one commit and
// its answer), and variations of them.
const wal = '19</tmp/crx/data/syncpoint.db-wal>';
const frameHeader = String.raw`"\0\0\0\20\0\0\0\0\201g\230AK\206u\301"..., 24, 32`;
const page = String.raw`"\r\0\0\0\1\17\321\0\17\321\0\0\0\0\0\0"..., 4096, 56`;
const answer = String.raw`24<TCP:[127.0.0.1:18231->127.0.0.1:49170]>, [{iov_base="HTTP/1.1 200 OK\r"..., iov_len=194}, {iov_base="{\"version\":1,\"st"..., iov_len=175}, {iov_base="", iov_len=0}], 3`;
const commit = [
  `11511 19:42:44.040746 pwrite64(${wal}, ${frameHeader}) = 24`,
  `11511 19:42:44.040849 pwrite64(${wal}, ${page}) = 4096`,
];
const walFsync = `11511 19:42:44.041182 fsync(${wal}) = 0`;
const reply = `11511 19:42:44.053126 writev(${answer}) = 369`;
const noise = [
  String.raw`11530 19:42:40.431303 write(17<anon_inode:[eventfd]>, "\1\0\0\0\0\0\0\0", 8) = 8`,
  `11511 19:42:40.332627 write(2<pipe:[20038]>, "syncpoint servin"..., 60) = 60`,
  '11511 19:42:44.100000 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=11600, si_uid=0, si_status=0, si_utime=0, si_stime=0} ---',
];
const check = (lines: string[]) => checkWalSyncedBeforeAnswers(lines.join('\n'));

test('the parser reads whole, unfinished and resumed lines across threads', () => {
  const trace = [
    `11511 19:42:44.145813 fsync(${wal} <unfinished ...>`,
    String.raw`11530 19:42:44.145820 write(17<anon_inode:[eventfd]>, "\1\0\0\0\0\0\0\0", 8) = 8`,
    '11511 19:42:44.146000 <... fsync resumed>) = 0',
    `11511 19:42:44.146100 writev(${answer}) = 369`,
    '11512 19:42:44.146200 +++ killed by SIGKILL +++',
  ].join('\n');
  // Mapped as they come: a call's result is filled in when its end is read.
  const points = Array.from(tracePoints(trace), (p) => `${p.phase} ${p.line} ${p.call.pid} ${p.call.name} ${p.call.target} ${p.call.result}`);
  assert.deepEqual(points, [
    'start 1 11511 fsync /tmp/crx/data/syncpoint.db-wal null',
    'start 2 11530 write anon_inode:[eventfd] null',
    'end 2 11530 write anon_inode:[eventfd] 8',
    'end 3 11511 fsync /tmp/crx/data/syncpoint.db-wal 0',
    'start 4 11511 writev TCP:[127.0.0.1:18231->127.0.0.1:49170] null',
    'end 4 11511 writev TCP:[127.0.0.1:18231->127.0.0.1:49170] 369',
  ]);
  assert.equal([...tracePoints(trace)][4]?.call.preview, String.raw`HTTP/1.1 200 OK\r`);
});

test('an answer written after the fsync of its commit passes', () => {
  const report = check([...noise, ...commit, walFsync, reply]);
  assert.deepEqual(report, { answers: 1, walWrites: 2, walSyncs: 1, violations: 0, firstViolation: null });
});

test('an answer with no fsync of the WAL before it fails (synchronous = OFF)', () => {
  const report = check([...noise, ...commit, reply]);
  assert.equal(report.violations, 1);
  assert.match(report.firstViolation ?? '', /writev to TCP:\[127\.0\.0\.1:18231->127\.0\.0\.1:49170\] at 19:42:44\.053126 \(trace line 6\) while the pwrite64 to \/tmp\/crx\/data\/syncpoint\.db-wal at 19:42:44\.040746 \(line 4\) was not yet fsynced/);
});

test('only a sync of the WAL itself, started after the write ended and returning 0, counts', () => {
  const mainFileSync = '11511 19:42:44.041182 fdatasync(18</tmp/crx/data/syncpoint.db>) = 0';
  assert.equal(check([...commit, mainFileSync, reply]).violations, 1, 'the database file is not the WAL');
  assert.equal(check([...commit, `11511 19:42:44.041182 fsync(${wal}) = -1 EIO (Input/output error)`, reply]).violations, 1, 'a failed fsync');
  const overlapping = [
    `11511 19:42:44.040746 pwrite64(${wal}, ${page} <unfinished ...>`,
    `11512 19:42:44.040750 fdatasync(${wal}) = 0`,
    '11511 19:42:44.040760 <... pwrite64 resumed>) = 4096',
    reply,
  ];
  assert.equal(check(overlapping).violations, 1, 'a sync that started before the write ended does not cover it');
  const answerDuringSync = [
    ...commit,
    `11511 19:42:44.041182 fsync(${wal} <unfinished ...>`,
    `11512 19:42:44.041190 writev(${answer} <unfinished ...>`,
    '11511 19:42:44.041300 <... fsync resumed>) = 0',
    '11512 19:42:44.041310 <... writev resumed>) = 369',
  ];
  assert.equal(check(answerDuringSync).violations, 1, 'an answer that starts before the sync returned');
  assert.equal(check([...commit, `11511 19:42:44.041182 fdatasync(${wal}) = 0`, reply]).violations, 0, 'fdatasync is as good as fsync');
});

test('a kill in the middle of a call ends the trace without confusing it', () => {
  const report = check([...commit, walFsync, reply, ...commit, `11511 19:42:45.000000 fsync(${wal} <unfinished ...>`, '11511 19:42:45.000100 <... fsync resumed>) = ?', '11511 19:42:45.000200 +++ killed by SIGKILL +++']);
  assert.deepEqual(report, { answers: 1, walWrites: 4, walSyncs: 1, violations: 0, firstViolation: null });
});
