import { createServer, type RequestListener, type Server, type ServerOptions } from 'node:http';
import type { Registry } from 'prom-client';
import { isLoopbackHost } from '../transport/index.js';
import type { Dashboard } from './dashboard/dashboard.js';

export interface HttpEndpoints {
  readonly registry: Registry;
  /** False while starting and while draining for shutdown: /ready answers 503 then. */
  ready(): boolean;
  /** /dashboard and everything under it. */
  readonly dashboard?: Pick<Dashboard, 'handle'>;
  /** POST /drain (from loopback only): lame duck, then shutdown, as on SIGTERM. */
  drain?(): void;
  /**
   * The port is bound to a loopback address (the default): every request must then name it by a loopback
   * address or `localhost`. A web page under a DNS-rebound name reaches loopback with its own name as Host,
   * and would otherwise read /metrics and /dashboard (tenants, streams, client addresses) from a browser
   * on this host. Bound elsewhere, the operator has put the port behind something, and Host is theirs.
   */
  readonly loopbackBound?: boolean;
}

/**
 * The HTTP port's bounds on its clients: nothing on it is slow to ask for (probes, scrapes, a dashboard),
 * so a connection still sending its request headers after 10 s is closed (Node's default waits 60 s, checked
 * every 30 s: a slow-header client held a descriptor for up to 90 s), and at most MAX_HTTP_CONNECTIONS are
 * open at once, so local clients cannot take the descriptors the broker's streams and storage need.
 */
const HTTP_SERVER_OPTIONS: ServerOptions = {
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  connectionsCheckingInterval: 1_000,
};
export const MAX_HTTP_CONNECTIONS = 1_024;

/** An HTTP server with the port's bounds, answering with `listener`. */
export function boundedHttpServer(listener: RequestListener): Server {
  const server = createServer(HTTP_SERVER_OPTIONS, listener);
  server.maxConnections = MAX_HTTP_CONNECTIONS;
  return server;
}

/** /live, /ready, /metrics and the live /dashboard on the broker's HTTP port. */
export function createHttpServer(endpoints: HttpEndpoints): Server {
  return boundedHttpServer(httpRequestHandler(endpoints));
}

/** The broker's HTTP answers, for a server bound before the broker behind them exists (BrokerNode.start). */
export function httpRequestHandler(endpoints: HttpEndpoints): RequestListener {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (hostHeaders(req.rawHeaders) > 1) {
      // RFC 9112 §3.2: Node keeps the first and drops the rest, so a check of one would not be the
      // check of the request a proxy in front may have read by the other.
      res.writeHead(400, { 'content-type': 'text/plain' }).end('more than one Host header\n');
      return;
    }
    if (endpoints.loopbackBound === true && !namesLoopback(req.headers.host)) {
      res
        .writeHead(403, { 'content-type': 'text/plain' })
        .end('this port is bound to loopback: name it by a loopback address or localhost in Host\n');
      return;
    }
    if (path === '/drain' && endpoints.drain !== undefined) {
      if (req.method !== 'POST') {
        res.writeHead(405, { allow: 'POST' }).end();
      } else if (!isLoopbackHost(req.socket.remoteAddress ?? '')) {
        // Nothing on this port is authenticated: only this host may shut the broker down.
        res.writeHead(403, { 'content-type': 'text/plain' }).end('drain is accepted from loopback only\n');
      } else if (req.headers.origin !== undefined || !namesLoopback(req.headers.host)) {
        // A web page open on this host can POST here too (a form needs no preflight), and a DNS-rebound
        // name reaches loopback under a foreign Host: a browser always sends Origin on such a request,
        // and an operator's curl names a loopback host.
        res
          .writeHead(403, { 'content-type': 'text/plain' })
          .end(
            'drain is accepted from a loopback client outside any web page (no Origin, a loopback Host)\n',
          );
      } else {
        res.writeHead(202, { 'content-type': 'text/plain' }).end('draining\n');
        endpoints.drain();
      }
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/live') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('live\n');
    } else if (path === '/ready') {
      const ready = endpoints.ready();
      res
        .writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' })
        .end(ready ? 'ready\n' : 'draining\n');
    } else if (path === '/metrics') {
      endpoints.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': endpoints.registry.contentType }).end(text),
        (err: Error) =>
          res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err.message}\n`),
      );
    } else if (endpoints.dashboard?.handle(req, res, path) !== true) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  };
}

/** Whether a Host header names this host by a loopback address or `localhost` (any port). */
function namesLoopback(host: string | undefined): boolean {
  if (host === undefined) return true; // HTTP/1.0 without Host: not from a browser
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d*$/, '');
  return name.toLowerCase() === 'localhost' || isLoopbackHost(name);
}

/** How many Host fields the request carries (`rawHeaders` alternates names and values). */
function hostHeaders(rawHeaders: readonly string[]): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i].toLowerCase() === 'host') count++;
  return count;
}
