import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';
import v8 from 'node:v8';
import type { ProcessHealth } from './snapshot-types.js';

// Fine enough to see a stall of a few milliseconds; the monitor costs one timer per this period.
const LOOP_DELAY_RESOLUTION_MS = 10;
const NS_PER_MS = 1e6;

/**
 * The process's memory, CPU and event-loop delay for the dashboard. The event-loop monitor runs only while
 * a dashboard is open (start/stop), so a broker nobody watches pays nothing for it.
 */
export class ProcessHealthSampler {
  private loop: ELDHistogram | null = null;
  private cpu = process.cpuUsage();
  private at = performance.now();

  start(): void {
    this.loop ??= monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
    this.loop.enable();
    this.loop.reset();
    this.cpu = process.cpuUsage();
    this.at = performance.now();
  }

  stop(): void {
    this.loop?.disable();
  }

  /** Memory now; CPU and loop delay since the last read (take) or start — none when `take` is false. */
  read(take: boolean): ProcessHealth {
    const memory = memoryNow();
    const health = {
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      cpuPercent: null as number | null,
      eventLoopLagMs: null as ProcessHealth['eventLoopLagMs'],
    };
    if (!take) return health;
    const now = performance.now();
    const cpu = process.cpuUsage(this.cpu);
    const wallUs = (now - this.at) * 1000;
    if (wallUs > 0) health.cpuPercent = (100 * (cpu.user + cpu.system)) / wallUs;
    this.cpu = process.cpuUsage();
    this.at = now;
    const loop = this.loop;
    if (loop !== null && loop.count > 0) {
      health.eventLoopLagMs = {
        // The monitor measures whole delays, its own period included: subtract it to get the lag.
        p50: Math.max(0, loop.percentile(50) / NS_PER_MS - LOOP_DELAY_RESOLUTION_MS),
        p99: Math.max(0, loop.percentile(99) / NS_PER_MS - LOOP_DELAY_RESOLUTION_MS),
        max: Math.max(0, loop.max / NS_PER_MS - LOOP_DELAY_RESOLUTION_MS),
      };
      loop.reset();
    }
    return health;
  }
}

/**
 * The resident set and the heap in use. The resident set is read from /proc/self/stat, which cannot be
 * opened while the process is out of file descriptors: it is then NaN (null in the snapshot's JSON), and
 * the heap comes from V8 alone, rather than the dashboard's timer throwing and ending the process.
 */
function memoryNow(): { rss: number; heapUsed: number } {
  try {
    const { rss, heapUsed } = process.memoryUsage();
    return { rss, heapUsed };
  } catch {
    return { rss: Number.NaN, heapUsed: v8.getHeapStatistics().used_heap_size };
  }
}
