/**
 * The broker program as a process the soak can stop (SIGTERM: it drains; SIGKILL: it just dies) and start
 * again on the same QUIC port, with its resident set and open descriptors readable from /proc.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { spawnBroker, type BrokerProcess } from '../../broker/spawn.js';

export class RestartableBroker {
  private constructor(
    private current: BrokerProcess,
    private readonly env: Record<string, string>,
    private readonly main: string | undefined,
  ) {}

  /** Starts the broker on an ephemeral loopback port; `main` overrides dist/broker/main.js. */
  static async start(env: Record<string, string>, main?: string): Promise<RestartableBroker> {
    const full = {
      ...(process.env as Record<string, string>),
      FELIX_QUIC_BIND: '127.0.0.1:0',
      FELIX_BROKER_METRICS_BIND: '127.0.0.1:0',
      FELIX_LOG_LEVEL: 'info',
      ...env,
    };
    return new RestartableBroker(await spawnBroker(full, [], main), full, main);
  }

  /** host:port of its QUIC endpoint; the same across restarts. */
  get address(): string {
    return this.current.address;
  }

  get port(): number {
    return Number(this.address.slice(this.address.lastIndexOf(':') + 1));
  }

  get pid(): number | undefined {
    return this.current.pid;
  }

  /** Sends `signal` and waits for the process to be gone. */
  async kill(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    if (signal === 'SIGKILL' && this.current.pid !== undefined) process.kill(this.current.pid, 'SIGKILL');
    // stop() sends SIGTERM unless the process already exited, and waits for the exit either way.
    await this.current.stop();
  }

  /** A new process on the same port: new stream epochs, empty history and cache. */
  async startAgain(): Promise<void> {
    this.current = await spawnBroker(
      { ...this.env, FELIX_QUIC_BIND: `127.0.0.1:${this.port}` },
      [],
      this.main,
    );
  }

  /** Resident set in MiB, or NaN when the process is gone. */
  rssMiB(): number {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
    } catch {
      return NaN;
    }
  }

  /** Open file descriptors (sockets included), or NaN when the process is gone. */
  openFds(): number {
    try {
      return readdirSync(`/proc/${this.pid}/fd`).length;
    } catch {
      return NaN;
    }
  }
}
