/**
 * `felix-ts status`: a one-screen summary of a broker, from two scrapes of its /metrics a short sample
 * apart (rates need two). Reads only the HTTP port (FELIX_BROKER_METRICS_BIND), which is unauthenticated
 * and loopback by default, so it runs on the broker's host or through whatever guards that port.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { durationMs } from '../../durations.js';
import { CliFailure } from '../../exit-codes.js';
import { parsePrometheusText, PrometheusTextError, type Scrape } from './prometheus-text.js';
import { renderStatus } from './summary.js';

const DEFAULT_METRICS = '127.0.0.1:8080';
const SCRAPE_TIMEOUT_MS = 5_000;

/** host:port or an http(s) URL; a URL without a path gets /metrics. */
export function metricsUrl(text: string): string {
  const withScheme = /^https?:\/\//.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new InvalidArgumentError(
      `expected host:port or a URL such as http://127.0.0.1:8080/metrics; got ${JSON.stringify(text)}`,
    );
  }
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/metrics';
  return url.href;
}

const STATUS_HELP = `
Scrapes the broker's /metrics twice, --sample apart, and prints one screen: process (uptime, memory,
CPU, event-loop lag), connections, subscriptions and queued events, publish and delivery rates,
drops, refusals, the cache's hit ratio and request rates, and durable storage when there is any.

The metrics port is the broker's FELIX_BROKER_METRICS_BIND (default ${DEFAULT_METRICS}); it is not
authenticated, so it is usually reachable only from the broker's host.

Exit status: 0 printed, 1 the broker could not be scraped, 2 bad arguments.

Examples:
  felix-ts status
  felix-ts status --metrics 127.0.0.1:9090 --sample 5s`;

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description("one-screen summary of a running broker's metrics")
    .addOption(
      // Shown as written (host:port), not as the URL it parses to.
      new Option('--metrics <host:port|url>', "the broker's HTTP metrics address")
        .argParser(metricsUrl)
        .default(metricsUrl(DEFAULT_METRICS), DEFAULT_METRICS),
    )
    .addOption(
      // Shown as written ("1s"), not as the milliseconds it parses to.
      new Option('--sample <duration>', 'time between the two scrapes rates are computed from')
        .argParser(durationMs(100, 60_000))
        .default(1_000, '1s'),
    )
    .addHelpText('after', STATUS_HELP)
    .action(async (flags: { metrics: string; sample: number }) => {
      const first = await scrape(flags.metrics);
      await sleep(flags.sample);
      const second = await scrape(flags.metrics);
      const seconds = (second.at - first.at) / 1000;
      process.stdout.write(
        renderStatus({ source: flags.metrics, before: first.scrape, after: second.scrape, seconds }),
      );
    });
}

async function scrape(url: string): Promise<{ scrape: Scrape; at: number }> {
  let text: string;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
    if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
    text = await response.text();
  } catch (error) {
    const cause = (error as Error & { cause?: Error }).cause?.message;
    throw new CliFailure(
      `cannot read ${url}: ${(error as Error).message}${cause === undefined ? '' : ` (${cause})`}; ` +
        'is a broker running there (its FELIX_BROKER_METRICS_BIND)?',
    );
  }
  const at = performance.now();
  try {
    return { scrape: parsePrometheusText(text), at };
  } catch (error) {
    if (error instanceof PrometheusTextError)
      throw new CliFailure(`${url} is not Prometheus metrics: ${error.message}`);
    throw error;
  }
}
