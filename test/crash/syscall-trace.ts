/**
 * Reading the output of `strace -f -tt -yy -s N -o FILE` (Debian's strace): one system call per line,
 * prefixed by the thread id and the time. With -f a call that blocks while another thread runs is split
 * in two lines, `name(args <unfinished ...>` and later `<... name resumed>rest) = result`; signals and
 * exits (`--- SIG... ---`, `+++ ... +++`) are lines of their own. With -yy every descriptor argument
 * carries what it names: `19</data/syncpoint.db-wal>`, `23<TCP:[127.0.0.1:8080->127.0.0.1:49160]>`.
 *
 * The file's line order is the order in which strace saw the events, so it is a valid total order of
 * every call's start and end across threads; times are only for the reader.
 */

export interface Syscall {
  pid: number;
  name: string;
  /** Wall-clock time of its first line, as strace printed it. */
  time: string;
  /** What the first argument names when it is a descriptor (a path, `TCP:[...]`, `pipe:[...]`); else null. */
  target: string | null;
  /** The first string argument (or first iov_base), still escaped as strace prints it; null if none. */
  preview: string | null;
  /** The result as printed (`0`, `4096`, `-1 EIO (...)`, `?`); null until the call's end is seen. */
  result: string | null;
  /** 1-based line of the call's first line. */
  line: number;
}

/** The start or the end of a call; a call on one line yields both, at that line. */
export interface TracePoint {
  phase: 'start' | 'end';
  call: Syscall;
  line: number;
}

const linePattern = /^(\d+) +(\d\d:\d\d:\d\d(?:\.\d+)?) +(.*)$/;
const resumedPattern = /^<\.\.\. (\w+) resumed>(.*)$/;
const callPattern = /^(\w+)\((.*)$/;
const unfinishedSuffix = ' <unfinished ...>';
/** The result of a finished call: the last `) = ` on the line (escaped strings cannot end a line with one). */
const resultPattern = /^(.*)\) += (.*)$/;
/** `19</path>` or `23<TCP:[a->b]>`: up to the first `>` that ends the argument. */
const descriptorPattern = /^\d+<(.*?)>(?=,|$)/;
const stringPattern = /"((?:[^"\\]|\\.)*)"/;

/** Every call's start and end, in the file's order. Lines strace adds about signals and exits are skipped. */
export function* tracePoints(text: string): Generator<TracePoint> {
  /** Calls left unfinished, by thread: a thread has at most one call in progress. */
  const unfinished = new Map<number, Syscall>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const m = linePattern.exec(lines[i] as string);
    if (!m) continue;
    const pid = Number(m[1]);
    const time = m[2] as string;
    const body = m[3] as string;
    const resumed = resumedPattern.exec(body);
    if (resumed) {
      const call = unfinished.get(pid);
      unfinished.delete(pid);
      // A resumed call whose start this file does not hold says nothing about a descriptor; skip it.
      if (!call || call.name !== resumed[1]) continue;
      call.result = resultPattern.exec(resumed[2] as string)?.[2] ?? '?';
      yield { phase: 'end', call, line };
      continue;
    }
    const started = callPattern.exec(body);
    if (!started) continue;
    const name = started[1] as string;
    let rest = started[2] as string;
    const isUnfinished = rest.endsWith(unfinishedSuffix);
    let result: string | null = null;
    if (isUnfinished) rest = rest.slice(0, -unfinishedSuffix.length);
    else {
      const r = resultPattern.exec(rest);
      if (!r) continue;
      rest = r[1] as string;
      result = r[2] as string;
    }
    const call: Syscall = {
      pid,
      name,
      time,
      target: descriptorPattern.exec(rest)?.[1] ?? null,
      preview: stringPattern.exec(rest)?.[1] ?? null,
      result: null,
      line,
    };
    yield { phase: 'start', call, line };
    if (isUnfinished) unfinished.set(pid, call);
    else {
      call.result = result;
      yield { phase: 'end', call, line };
    }
  }
}
