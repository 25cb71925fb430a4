import { readFileSync } from 'node:fs';

/**
 * What one process spends, read from Linux's /proc so nothing is added to the server: CPU time
 * (utime + stime of every thread, in clock ticks of 10 ms) and resident memory, sampled every 20 ms
 * while a case runs. The peak is the larger of the samples and the kernel's high-water mark (VmHWM)
 * when that rose during the case, so a spike between two samples still counts.
 */
const ticksPerSecond = 100;
const sampleMs = 20;

function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces and parentheses; the fields after the last ')' are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
}

function memoryKiB(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

export interface Metered {
  cpuMs: number;
  /** Peak resident set during the case above the resident set at its start. */
  rssGrowthMiB: number;
  /** Resident set at the end above that at the start (NaN when the process is gone). */
  rssRetainedMiB: number;
  /** The process exited during the case. */
  gone: boolean;
}

export class ProcessMeter {
  private readonly cpuStart: number;
  private cpuLast: number;
  private readonly rssStart: number;
  private readonly hwmStart: number;
  private rssPeak: number;
  private hwmLast: number;
  private gone = false;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.cpuStart = this.cpuLast = cpuMs(pid);
    const m = memoryKiB(pid);
    this.rssStart = this.rssPeak = m.rss;
    this.hwmStart = this.hwmLast = m.hwm;
    this.timer = setInterval(() => this.sample(), sampleMs);
  }

  private sample(): number {
    if (this.gone) return NaN;
    try {
      this.cpuLast = cpuMs(this.pid);
      const m = memoryKiB(this.pid);
      this.rssPeak = Math.max(this.rssPeak, m.rss);
      this.hwmLast = m.hwm;
      return m.rss;
    } catch {
      // The process exited: keep the last figures read.
      this.gone = true;
      return NaN;
    }
  }

  stop(): Metered {
    clearInterval(this.timer);
    const rssEnd = this.sample();
    const peak = this.hwmLast > this.hwmStart ? Math.max(this.rssPeak, this.hwmLast) : this.rssPeak;
    const mib = (kib: number) => Math.round(kib / 102.4) / 10;
    return { cpuMs: this.cpuLast - this.cpuStart, rssGrowthMiB: mib(peak - this.rssStart), rssRetainedMiB: mib(rssEnd - this.rssStart), gone: this.gone };
  }
}
