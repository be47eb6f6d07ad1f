/**
 * A loopback UDP impairment proxy: clients send to its port as if it were the broker; it forwards each
 * datagram to the target and the answers back, impairing both directions (see impairment.ts). Each client
 * address is one flow with its own upstream socket, so the target sees one peer per client and answers
 * find their way back. Used by the resilience tests, the loss benchmark and the soak, and as a program
 * (impair-proxy.ts).
 *
 * Flows silent for `flowIdleMs` are forgotten (their upstream socket closed), so a long run with churning
 * clients holds a bounded number of sockets.
 */
import dgram from 'node:dgram';
import { itemSeed } from '../../scripts/hostile/prng.js';
import {
  Impairment,
  emptyCounts,
  resolveImpairment,
  type ImpairmentCounts,
  type ImpairmentSettings,
} from './impairment.js';

export interface UdpAddress {
  readonly host: string;
  readonly port: number;
}

export interface ImpairProxyOptions {
  /** Where the broker listens. */
  readonly target: UdpAddress;
  /** Where clients send; default 127.0.0.1 on an ephemeral port. */
  readonly listen?: UdpAddress;
  /** Impairment of client → target datagrams. */
  readonly toTarget?: Partial<ImpairmentSettings>;
  /** Impairment of target → client datagrams; default the same as `toTarget`. */
  readonly toClient?: Partial<ImpairmentSettings>;
  /** Seed of every flow's fates; printed by callers so a run can be replayed. Default 1. */
  readonly seed?: number;
  /** A flow with no datagram either way for this long is forgotten. Default 60 s. */
  readonly flowIdleMs?: number;
}

export interface ProxyStats {
  readonly toTarget: ImpairmentCounts;
  readonly toClient: ImpairmentCounts;
  /** Flows open now, and ever opened. */
  readonly flows: number;
  readonly flowsOpened: number;
}

// QUIC over loopback sends datagrams of up to 16 KiB in bursts; a small socket buffer would add loss of
// its own that no setting asked for.
const SOCKET_BUFFER_BYTES = 8 * 1024 * 1024;

interface Flow {
  readonly client: UdpAddress;
  readonly upstream: dgram.Socket;
  readonly toTarget: Impairment;
  readonly toClient: Impairment;
  lastActive: number;
}

export class ImpairProxy {
  private readonly flows = new Map<string, Flow>();
  private readonly counts = { toTarget: emptyCounts(), toClient: emptyCounts() };
  private toTargetSettings: ImpairmentSettings;
  private toClientSettings: ImpairmentSettings;
  private flowsOpened = 0;
  private closed = false;
  private readonly sweeper: NodeJS.Timeout;

  private constructor(
    private readonly socket: dgram.Socket,
    private readonly target: UdpAddress,
    private readonly seed: number,
    private readonly flowIdleMs: number,
    options: ImpairProxyOptions,
  ) {
    this.toTargetSettings = resolveImpairment(options.toTarget);
    this.toClientSettings = resolveImpairment(options.toClient ?? options.toTarget);
    socket.on('message', (datagram, from) => this.fromClient(datagram, from));
    this.sweeper = setInterval(() => this.forgetIdleFlows(), Math.max(100, flowIdleMs / 2)).unref();
  }

  static async start(options: ImpairProxyOptions): Promise<ImpairProxy> {
    const listen = options.listen ?? { host: '127.0.0.1', port: 0 };
    const socket = await bindSocket(listen.host, listen.port);
    return new ImpairProxy(socket, options.target, options.seed ?? 1, options.flowIdleMs ?? 60_000, options);
  }

  /** host:port clients should connect to. */
  get address(): string {
    const { address, port } = this.socket.address();
    return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
  }

  get port(): number {
    return this.socket.address().port;
  }

  /**
   * Changes the impairment from the next datagram on, for every flow (the soak turns loss on and off; the
   * benchmark steps through loss rates on one broker). `toClient` defaults to the same change.
   */
  impair(toTarget: Partial<ImpairmentSettings>, toClient: Partial<ImpairmentSettings> = toTarget): void {
    this.toTargetSettings = resolveImpairment({ ...this.toTargetSettings, ...toTarget });
    this.toClientSettings = resolveImpairment({ ...this.toClientSettings, ...toClient });
    for (const flow of this.flows.values()) {
      flow.toTarget.settings = this.toTargetSettings;
      flow.toClient.settings = this.toClientSettings;
    }
  }

  stats(): ProxyStats {
    return {
      toTarget: { ...this.counts.toTarget },
      toClient: { ...this.counts.toClient },
      flows: this.flows.size,
      flowsOpened: this.flowsOpened,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    // Datagrams still waiting out their delay are dropped (send() checks `closed`).
    const sockets = [this.socket, ...[...this.flows.values()].map((f) => f.upstream)];
    this.flows.clear();
    await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  private fromClient(datagram: Buffer, from: dgram.RemoteInfo): void {
    const flow = this.flowOf(from);
    if (flow === undefined) return;
    flow.lastActive = Date.now();
    for (const delay of flow.toTarget.nextFate()) {
      this.send(flow.upstream, datagram, this.target, delay);
    }
  }

  private fromTarget(flow: Flow, datagram: Buffer, from: dgram.RemoteInfo): void {
    // The upstream socket is not connected (a connected one would turn the ICMP errors of a restarting
    // broker into socket errors), so anything else that finds its port is ignored here.
    if (from.port !== this.target.port) return;
    flow.lastActive = Date.now();
    for (const delay of flow.toClient.nextFate()) this.send(this.socket, datagram, flow.client, delay);
  }

  private flowOf(from: dgram.RemoteInfo): Flow | undefined {
    const key = `${from.address}:${from.port}`;
    const known = this.flows.get(key);
    if (known !== undefined) return known;
    if (this.closed) return undefined;
    // Fates are per flow and direction, so one flow replays the same whatever the others do.
    const index = this.flowsOpened++;
    const ipv6 = this.target.host.includes(':');
    const upstream = dgram.createSocket({
      type: ipv6 ? 'udp6' : 'udp4',
      recvBufferSize: SOCKET_BUFFER_BYTES,
      sendBufferSize: SOCKET_BUFFER_BYTES,
    });
    // Loopback only, as every test and benchmark here; sends made before the bind completes wait for it.
    upstream.bind(0, ipv6 ? '::1' : '127.0.0.1');
    const flow: Flow = {
      client: { host: from.address, port: from.port },
      upstream,
      toTarget: new Impairment(this.toTargetSettings, itemSeed(this.seed, 2 * index), this.counts.toTarget),
      toClient: new Impairment(
        this.toClientSettings,
        itemSeed(this.seed, 2 * index + 1),
        this.counts.toClient,
      ),
      lastActive: Date.now(),
    };
    upstream.on('message', (datagram, source) => this.fromTarget(flow, datagram, source));
    // A send to a broker that is down (restarting) is lost, like any datagram on a real path.
    upstream.on('error', () => undefined);
    this.flows.set(key, flow);
    return flow;
  }

  private send(socket: dgram.Socket, datagram: Buffer, to: UdpAddress, delayMs: number): void {
    if (delayMs <= 0) {
      this.sendNow(socket, datagram, to);
      return;
    }
    // Timers of equal delay fire in the order they were set, so a fixed delay keeps the order.
    setTimeout(() => this.sendNow(socket, datagram, to), delayMs).unref();
  }

  private sendNow(socket: dgram.Socket, datagram: Buffer, to: UdpAddress): void {
    if (this.closed) return;
    try {
      socket.send(datagram, to.port, to.host);
    } catch {
      // The flow was forgotten (socket closed) while this copy waited out its delay: lost.
    }
  }

  private forgetIdleFlows(): void {
    const now = Date.now();
    for (const [key, flow] of this.flows) {
      if (now - flow.lastActive < this.flowIdleMs) continue;
      this.flows.delete(key);
      flow.upstream.close();
    }
  }
}

function bindSocket(host: string, port: number): Promise<dgram.Socket> {
  const socket = dgram.createSocket({
    type: host.includes(':') ? 'udp6' : 'udp4',
    recvBufferSize: SOCKET_BUFFER_BYTES,
    sendBufferSize: SOCKET_BUFFER_BYTES,
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      socket.on('error', () => undefined);
      resolve(socket);
    });
  });
}
