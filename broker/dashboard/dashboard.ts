import type { IncomingMessage, ServerResponse } from 'node:http';
import { DashboardAssets } from './assets.js';
import { DashboardEventFeed, DEFAULT_FEED_OPTIONS, type EventFeedOptions } from './event-feed.js';
import { SnapshotBuilder, type DashboardSources, type SnapshotClock } from './snapshot-builder.js';

export const DASHBOARD_PATH = '/dashboard';
const EVENTS_PATH = `${DASHBOARD_PATH}/events`;
const ASSETS_PREFIX = `${DASHBOARD_PATH}/assets/`;

export interface DashboardOptions {
  /** The built page and bundles; defaults to dist/broker/dashboard/assets/ beside this module. */
  readonly assetsDir?: string;
  readonly feed?: EventFeedOptions;
  readonly clock?: SnapshotClock;
}

/** The live dashboard on the broker's HTTP port: the page, its bundled scripts, and its event stream. */
export class Dashboard {
  private readonly assets: DashboardAssets;
  private readonly snapshots: SnapshotBuilder;
  readonly feed: DashboardEventFeed;

  constructor(sources: DashboardSources, options: DashboardOptions = {}) {
    this.assets = new DashboardAssets(options.assetsDir);
    this.snapshots = new SnapshotBuilder(sources, options.clock);
    this.feed = new DashboardEventFeed(this.snapshots, options.feed ?? DEFAULT_FEED_OPTIONS);
  }

  /** False when the page was not built (running from source without `npm run build`): /dashboard answers 503. */
  get built(): boolean {
    return this.assets.built;
  }

  /** Answers a GET or HEAD under /dashboard and returns true; returns false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    if (path === DASHBOARD_PATH || path === `${DASHBOARD_PATH}/`) {
      // The page carries a first snapshot, so it shows the broker before the event stream's first tick.
      this.assets.servePage(res, () => this.snapshots.preview());
    } else if (path === EVENTS_PATH) {
      // A HEAD would otherwise hold a connection open that can never carry an event.
      if (req.method === 'HEAD') res.writeHead(200, { 'content-type': 'text/event-stream' }).end();
      else this.feed.attach(req, res);
    } else if (path.startsWith(ASSETS_PREFIX)) {
      this.assets.serveAsset(res, path.slice(ASSETS_PREFIX.length));
    } else {
      return false;
    }
    return true;
  }

  close(): void {
    this.feed.close();
  }
}
