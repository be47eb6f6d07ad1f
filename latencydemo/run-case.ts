/**
 * One case, as Felix's run_case: a fresh broker (its own process), one client, the subscribers, the warmup
 * published and drained, then the clock started and the measured events published and awaited (up to
 * --idle-ms of silence for stragglers), then everything closed.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { connect, type FelixClient } from '../client/index.js';
import { sendWindowWarning } from './accounting.js';
import { brokerEnvironment, demoSizesQueues, type Environment } from './broker-env.js';
import { spawnBroker, type BrokerProcess } from '../broker/spawn.js';
import { buildCaseReport, type CaseReport, type HopTiming } from './case-report.js';
import type { CaseConfig } from './cases.js';
import type { ProgressLine } from './progress.js';
import { planStreams } from './publish-plan.js';
import { LoadPublisher } from './publisher.js';
import { fenceUntilSettled } from './fence.js';
import { OpenLoopPublisher, openLoopReport } from './open-loop.js';
import { withoutOwnBrokerNotice } from './own-broker-notice.js';
import { SubscriberGroup } from './subscribers.js';

export interface CaseRunContext {
  /** Environment of the demo; a spawned broker gets it plus the case's settings. */
  readonly env: Environment;
  /** host:port of --broker, or undefined to spawn a broker for the case. */
  readonly externalBroker: string | undefined;
  /** FELIX_EVENT_SEND_WINDOW in effect, for the batched-run warning. */
  readonly sendWindowBytes: number;
  readonly progress: ProgressLine;
  /** "[3/20]", for the progress line. */
  readonly label: string;
  /** SDK warnings (deduplicated by the caller). */
  readonly onWarning: (message: string) => void;
  /** Node flags for a spawned broker (--broker-node-flags). */
  readonly brokerNodeFlags: readonly string[];
}

export async function runCase(c: CaseConfig, ctx: CaseRunContext): Promise<CaseReport> {
  const spawned: BrokerProcess | null =
    ctx.externalBroker === undefined
      ? await spawnBroker(brokerEnvironment(ctx.env, c), ctx.brokerNodeFlags)
      : null;
  try {
    const client = await connect({
      broker: spawned?.address ?? ctx.externalBroker,
      pubConnPool: c.pubConns,
      pubStreamsPerConn: c.pubStreamsPerConn,
      pubSharding: c.pubSharding,
      eventConnPool: c.subConns,
      onWarning: withoutOwnBrokerNotice(spawned !== null, ctx.onWarning),
    });
    try {
      return c.rate === undefined
        ? await measure(c, ctx, client, spawned === null)
        : await measureOpenLoop(c, c.rate, ctx, client, spawned === null);
    } finally {
      ctx.progress.stop();
      await client.close();
    }
  } finally {
    await spawned?.stop();
  }
}

/** The case's streams (for `batch`-sized publishes) and its subscribers, all subscribed. */
async function subscribedGroup(
  c: CaseConfig,
  batch: number,
  client: FelixClient,
): Promise<{ plan: ReturnType<typeof planStreams>; group: SubscriberGroup }> {
  // Every case publishes to streams of its own (`latency-<tag>`), so their offsets start at 0: a shared
  // broker keeps the streams of earlier cases, and a durable stream outlives the broker, so a spawned
  // broker on a reused FELIX_DURABLE_STORAGE_DIR would replay an earlier run's events to the subscribers.
  const tag = randomBytes(4).toString('hex');
  const plan = planStreams(c.warmup, c.total, batch, c.pubStreamCount, tag);
  const group = new SubscriberGroup(plan, c.fanout, c.warmup);
  await group.subscribeAll(client);
  return { plan, group };
}

async function measure(
  c: CaseConfig,
  ctx: CaseRunContext,
  client: FelixClient,
  sharedBroker: boolean,
): Promise<CaseReport> {
  const warnings: string[] = [];
  const { plan, group } = await subscribedGroup(c, c.batch, client);
  const publisher = new LoadPublisher(
    client,
    c,
    plan.map((s) => s.name),
    group,
  );
  let phase = 'warmup';
  ctx.progress.show(
    () =>
      `${ctx.label} ${c.name} ${phase}: published ${publisher.published}/${c.warmup + c.total}, ` +
      `delivered ${group.warmupAccounted + group.measuredAccounted}/${group.warmupTarget + group.measuredTarget}`,
  );

  await publisher.publishPhase(c.warmup, 0);
  if (!(await group.waitFor('warmup', c.idleMs))) {
    warnings.push(
      `warmup incomplete: ${group.warmupAccounted} of ${group.warmupTarget} warmup deliveries after ` +
        `${c.idleMs} ms of silence`,
    );
  }

  phase = 'measure';
  const start = performance.now();
  await publisher.publishPhase(c.total, c.warmup);
  const published = performance.now();
  const complete = await group.waitFor('measured', c.idleMs);
  // Felix reads the clock once the publisher is done and the primary subscriber has everything; a primary
  // that never completes ends at its last event rather than after the idle wait.
  const primaryEnd = group.primaryDoneAt >= 0 ? group.primaryDoneAt : group.primaryLastAt;
  const elapsedMs = Math.max(published, primaryEnd) - start;
  if (!complete) await fenceTail(c, client, plan, group);

  const windowWarning = sendWindowWarning(c.batch, c.total, c.payload, ctx.sendWindowBytes);
  if (windowWarning !== undefined) warnings.push(windowWarning);
  if (sharedBroker) {
    warnings.push(
      `--broker: the broker's own settings apply (FELIX_FANOUT_BATCH=${c.batch} and the subscriber ` +
        'queue size are not set for this case)',
    );
  }
  warnings.push(...publisher.warnings, ...group.warnings);
  return reportOf(c, group, elapsedMs, warnings, dropsInvalid(ctx, sharedBroker));
}

/**
 * The open loop: subscribers as in the closed loop, then warmup and measured events as one paced schedule
 * (no drain between them, so the measured phase starts in the steady state the warmup reached), then up to
 * --idle-ms of silence for stragglers. Elapsed time runs from the first measured event's scheduled time.
 */
async function measureOpenLoop(
  c: CaseConfig,
  rate: number,
  ctx: CaseRunContext,
  client: FelixClient,
  sharedBroker: boolean,
): Promise<CaseReport> {
  const warnings: string[] = [];
  const { plan, group } = await subscribedGroup(c, 1, client);
  const publisher = new OpenLoopPublisher(client, {
    rate,
    warmup: c.warmup,
    total: c.total,
    payload: c.payload,
    streams: plan.map((s) => s.name),
  });
  ctx.progress.show(
    () =>
      `${ctx.label} ${c.name} open loop ${rate} msg/s: published ${publisher.published}/${c.warmup + c.total}, ` +
      `delivered ${group.accounted}/${group.warmupTarget + group.measuredTarget}`,
  );
  const paced = await publisher.run();
  await client.flush();
  const published = performance.now();
  const complete = await group.waitFor('measured', c.idleMs);
  const start = paced.startAt + (c.warmup * 1000) / rate;
  const primaryEnd = group.primaryDoneAt >= 0 ? group.primaryDoneAt : group.primaryLastAt;
  if (!complete) await fenceTail(c, client, plan, group);
  if (group.warmupAccounted < group.warmupTarget) {
    warnings.push(`warmup incomplete: ${group.warmupAccounted} of ${group.warmupTarget} warmup deliveries`);
  }
  if (sharedBroker)
    warnings.push("--broker: the broker's own settings apply (subscriber queue size not set)");
  warnings.push(...publisher.warnings, ...group.warnings);
  return reportOf(
    c,
    group,
    Math.max(published, primaryEnd) - start,
    warnings,
    dropsInvalid(ctx, sharedBroker),
    openLoopReport(rate, paced),
  );
}

/**
 * Measured deliveries still missing after the idle wait: fences make the broker's drops at the end of the
 * run show as gaps (fence.ts). Only accounting changes: the elapsed time was read before.
 */
async function fenceTail(
  c: CaseConfig,
  client: FelixClient,
  plan: readonly { readonly name: string }[],
  group: SubscriberGroup,
): Promise<void> {
  await fenceUntilSettled(
    client,
    plan.map((s) => s.name),
    c.payload,
    () => group.waitFor('measured', c.idleMs),
  );
}

/**
 * Whether a drop makes the case invalid: only when the demo sized the subscriber queues of the broker it
 * started (brokerEnvironment). Bounds the user set, or a --broker's own, are there to study drops.
 */
function dropsInvalid(ctx: CaseRunContext, sharedBroker: boolean): boolean {
  return !sharedBroker && demoSizesQueues(ctx.env);
}

/** The case's report from what the subscribers received, however the messages were published. */
function reportOf(
  c: CaseConfig,
  group: SubscriberGroup,
  elapsedMs: number,
  warnings: string[],
  queuesSizedForCase: boolean,
  openLoop?: ReturnType<typeof openLoopReport>,
): CaseReport {
  const latencies = group.latencies();
  return buildCaseReport(c, {
    sampleTotal: group.primaryTarget,
    primaryReceived: group.primaryReceived,
    deliveredTotal: group.measuredReceived,
    reportedDrops: group.measuredDropped,
    outOfRangeLatencies: group.outOfRangeLatencies,
    dropsInvalid: queuesSizedForCase,
    primary: latencies.primary,
    all: latencies.all,
    elapsedMs,
    warnings,
    timings: hopTimings(group.primarySubscription?.hopStats() ?? null),
    ...(openLoop !== undefined && { openLoop }),
  });
}
/** The SDK's hop statistics as the report's timings, or null when no batch carried stamps (timings off). */
function hopTimings(
  stats: Readonly<Record<string, HopTiming>> | null,
): Readonly<Record<string, HopTiming>> | null {
  if (stats === null) return null;
  const measured = Object.entries(stats).filter(([, t]) => t.count > 0);
  return measured.length === 0 ? null : Object.fromEntries(measured);
}
