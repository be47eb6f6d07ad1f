/**
 * Diagnostic for the stalls under loss (docs/benchmarks.md, "Under packet loss"): bare transport, no
 * broker or SDK. A client streams 128-byte writes every 2 ms through the impairment proxy to a server that
 * echoes them; every 50 ms it samples quiche's view of both connections (smoothed RTT, losses, next
 * timeout). Any pause of over 400 ms between echoes prints the samples around it; the end prints a
 * sample every 200 ms.
 *
 *   D=5 R=25 RC=0 node dist/bench/impair/rtt-probe.js <loss %> <seconds> <seed>
 *
 * D: one-way delay (ms); R / RC: percent reordered (+10 ms) client→server / server→client; CC: cubic,
 * reno or bbr. With R=25 and no loss, the sender whose packets are reordered used to see its RTT estimate
 * grow with wall-clock time (see the report in docs/benchmarks.md). The cause is quiche 0.18's pacer: every
 * sent packet is stamped with the pacer's next_time, which with pacing off moves only when the pacer resets,
 * and stops resetting once cwnd < 0.8 × the initial window; transport/settings.ts now enables pacing. The
 * stamp still lags while a connection has sent less than 10 × its datagram size (`sent` below): quiche does
 * not count those bytes.
 */
import { Endpoint, generateSelfSignedCertificate, type Connection } from '../../transport/index.js';
import { ImpairProxy } from './proxy.js';

interface QuicheView {
  q: {
    pathStats(): { rtt: number; cwnd: number; sentBytes: number }[];
    stats(): { lost: number; retrans: number };
    timeout(): number | null;
  };
}

const loss = Number(process.argv[2] ?? 5);
const secs = Number(process.argv[3] ?? 20);
const seed = Number(process.argv[4] ?? 1);
const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const impairment = (reorderPercent: number) => ({ lossPercent: loss, delayMs: env('D', 5), reorderPercent });

const tls = await generateSelfSignedCertificate();
let serverConn: Connection | null = null;
const server = await Endpoint.listen({
  host: '127.0.0.1',
  port: 0,
  tls,
  onConnection: (c) => {
    serverConn = c;
    c.onStream = (s) => {
      s.onData = (d) => {
        if (d.length) s.write(Buffer.from(d));
      };
    };
  },
});
const proxy = await ImpairProxy.start({
  target: server.address,
  seed,
  toTarget: impairment(env('R', 25)),
  toClient: impairment(env('RC', env('R', 25))),
});
const ep = await Endpoint.client({
  host: '127.0.0.1',
  port: proxy.port,
  settings: { congestionControl: (process.env.CC ?? 'cubic') as 'cubic' },
});
const conn = await ep.connect({ timeoutMs: 15000 });
const s = conn.openStream(true);
const t0 = performance.now();
let last = t0;
let worst = 0;
const ring: string[] = [];
// @internal access to quiche, for a diagnostic only.
const snap = (c: Connection | null): string => {
  if (c === null) return '-';
  const q = (c as unknown as QuicheView).q;
  const p = q.pathStats()[0]!;
  const st = q.stats();
  return `rtt=${p.rtt.toFixed(0)} cwnd=${p.cwnd} sent=${p.sentBytes} lost=${st.lost} retx=${st.retrans} to=${q.timeout()?.toFixed(0)}`;
};
const sampler = setInterval(() => {
  ring.push(`${(performance.now() - t0).toFixed(0)} C[${snap(conn)}] S[${snap(serverConn)}]`);
  if (ring.length > 400) ring.shift();
}, 50);
s.onData = () => {
  const now = performance.now();
  const gap = now - last;
  last = now;
  if (gap > 400) {
    console.log(`GAP ${gap.toFixed(0)} ms at ${(now - t0).toFixed(0)}`);
    console.log(ring.slice(-Math.ceil(gap / 50) - 4).join('\n'));
  }
  worst = Math.max(worst, gap);
};
const payload = Buffer.alloc(128, 1);
while (performance.now() - t0 < secs * 1000) {
  s.write(payload);
  await new Promise((r) => setTimeout(r, 2));
}
clearInterval(sampler);
console.log(`worst gap ${worst.toFixed(0)} ms; client ${snap(conn)}; server ${snap(serverConn)}`);
console.log(JSON.stringify(proxy.stats()));
console.log(ring.filter((_, i) => i % 4 === 0).join('\n'));
await ep.close({ timeoutMs: 100 });
await proxy.close();
await server.close();
