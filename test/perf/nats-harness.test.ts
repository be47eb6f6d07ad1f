// The NATS harness against a real nats-server, when this machine has one (the Debian package): it must
// answer in latencydemo's report shape, so that everything after a run reads both systems alike.
import { describe, expect, it } from 'vitest';
import { checkLatencyReport } from '../../scripts/perf/latency_report.js';
import { measureNats } from '../../scripts/perf/nats_latency.js';
import { findNatsServer, NATS_INSTALL_HINT, startNatsServer } from '../../scripts/perf/nats_server.js';
import { withoutRateShortfall } from '../support/open-loop-shortfall.js';

const natsServer = findNatsServer();
if (natsServer === undefined) {
  // Said in the output, not only counted (.ci/run installs no nats-server; the comparisons need one).
  console.log(
    `nats-harness: skipped: no nats-server on this machine (${NATS_INSTALL_HINT}, or NATS_SERVER_BIN)`,
  );
}

describe.skipIf(natsServer === undefined)('nats_latency', () => {
  it('measures a small fanout run and reports it as latencydemo does', async () => {
    const server = await startNatsServer(natsServer!);
    try {
      const result = await measureNats({
        warmup: 20,
        total: 200,
        payload: 64,
        fanout: 3,
        batch: 8,
        binary: false,
        idleMs: 2000,
        server: server.address,
      });
      const report = checkLatencyReport({
        tool: 'nats_latency',
        schema: 1,
        broker: 'x',
        node: 'v20',
        env: {},
        cases: [result],
      });
      expect(report.cases[0]).toMatchObject({
        fanout: 3,
        batch: 8,
        sub_conns: 3,
        pub_sharding: 'none',
        delivered_total: 600,
        expected_deliveries: 600,
        unaccounted: 0,
        valid: true,
      });
      expect(result.p50_us).toBeGreaterThan(0);
      expect(result.all_p99_us!).toBeGreaterThanOrEqual(result.all_p50_us!);
      // latencydemo counts the 16-byte stamp header in the bytes delivered.
      expect(result.delivered_mb_s).toBeCloseTo((result.delivered_throughput_msgs * (16 + 64)) / 1e6, 1);
    } finally {
      await server.stop();
    }
  });

  it("keeps latencydemo's window of batches in flight, and reports it", async () => {
    const server = await startNatsServer(natsServer!);
    try {
      const base = { warmup: 64, total: 2048, payload: 16, fanout: 2, batch: 16, binary: true, idleMs: 2000 };
      const windowed = await measureNats({ ...base, window: 3, server: server.address });
      expect(windowed).toMatchObject({ pub_window: 3, delivered_total: 4096, unaccounted: 0, valid: true });
      // Without --window: latencydemo's default for the batch and payload (16 batches of 16 × 32 B).
      const byDefault = await measureNats({ ...base, server: server.address });
      expect(byDefault).toMatchObject({ pub_window: 16, valid: true });
      expect(byDefault.warnings.filter((w) => w.includes('window'))).toEqual([]);
    } finally {
      await server.stop();
    }
  });

  it("runs latencydemo's open loop (--rate) with every delivery accounted for", async () => {
    const server = await startNatsServer(natsServer!);
    try {
      const result = await measureNats({
        ...{ warmup: 50, total: 400, payload: 64, fanout: 2, batch: 1, binary: false, idleMs: 2000 },
        rate: 2000,
        server: server.address,
      });
      expect(result).toMatchObject({
        name: 'nats/f2-r2000-p64',
        pub_window: 0,
        delivered_total: 800,
        expected_deliveries: 800,
        unaccounted: 0,
      });
      // Valid but for this machine's speed at the moment (a 0.2 s run: a 10 ms stall is 5% of it).
      expect(withoutRateShortfall(result.invalid_reasons, 'nats_latency --rate 2000')).toEqual([]);
      expect(result.open_loop).toMatchObject({ rate_msgs: 2000 });
      expect(result.open_loop!.achieved_rate_msgs).toBeGreaterThan(0);
    } finally {
      await server.stop();
    }
  });
});
