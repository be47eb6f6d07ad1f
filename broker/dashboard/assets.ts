import { readdirSync, readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `npm run build` (scripts/build-dashboard.mjs) writes the page and its bundles. */
export const BUILT_ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));
export const PAGE_FILE = 'index.html';
/** Where the page template (broker/dashboard/page/index.html) takes the first snapshot. */
export const FIRST_SNAPSHOT_MARKER = '<!--first-snapshot-->';
/** The element the page script reads its first snapshot from. */
export const FIRST_SNAPSHOT_ID = 'first-snapshot';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

// Bundles carry a content hash in their name, so a browser may keep them for good; the page names the
// current bundles, so it is revalidated every time.
const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';

interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
}

/**
 * The built dashboard files, read once at start: only names found then are served, so a request can never
 * reach another file (no path handling at all), and unknown names are 404s.
 */
export class DashboardAssets {
  private readonly files = new Map<string, Asset>();

  constructor(dir: string = BUILT_ASSETS_DIR) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return; // not built (e.g. running from source): the page answers 503 saying so
    }
    for (const name of names) {
      const contentType = CONTENT_TYPES[extname(name)];
      if (contentType !== undefined)
        this.files.set(name, { body: readFileSync(join(dir, name)), contentType });
    }
  }

  get built(): boolean {
    return this.files.has(PAGE_FILE);
  }

  /** Answers GET /dashboard, with `firstSnapshot` embedded where the page has its marker. */
  servePage(res: ServerResponse, firstSnapshot?: () => unknown): void {
    const page = this.files.get(PAGE_FILE);
    if (page === undefined) {
      res
        .writeHead(503, { 'content-type': 'text/plain; charset=utf-8' })
        .end('dashboard not built: run npm run build\n');
      return;
    }
    const at = firstSnapshot === undefined ? -1 : page.body.indexOf(FIRST_SNAPSHOT_MARKER);
    if (at < 0) {
      send(res, page, REVALIDATE);
      return;
    }
    const embedded = Buffer.from(
      `<script type="application/json" id="${FIRST_SNAPSHOT_ID}">${scriptSafeJson(firstSnapshot!())}</script>`,
    );
    const body = Buffer.concat([
      page.body.subarray(0, at),
      embedded,
      page.body.subarray(at + FIRST_SNAPSHOT_MARKER.length),
    ]);
    send(res, { body, contentType: page.contentType }, REVALIDATE);
  }

  /** Answers GET /dashboard/assets/<name>. */
  serveAsset(res: ServerResponse, name: string): void {
    const asset = name === PAGE_FILE ? undefined : this.files.get(name);
    if (asset === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    send(res, asset, IMMUTABLE);
  }
}

/**
 * JSON that cannot end the script element it sits in: stream names and tenants come from clients, so a
 * `</script>` in one must stay text. `<` is escaped as JSON allows, and JSON.parse reads it back unchanged.
 */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

function send(res: ServerResponse, asset: Asset, cacheControl: string): void {
  res
    .writeHead(200, {
      'content-type': asset.contentType,
      'content-length': asset.body.length,
      'cache-control': cacheControl,
      'x-content-type-options': 'nosniff',
    })
    .end(asset.body);
}
