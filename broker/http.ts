import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { Dashboard } from './dashboard/dashboard.js';

export interface HttpEndpoints {
  readonly registry: Registry;
  /** False while starting and while draining for shutdown: /ready answers 503 then. */
  ready(): boolean;
  /** /dashboard and everything under it. */
  readonly dashboard?: Pick<Dashboard, 'handle'>;
}

/** /live, /ready, /metrics and the live /dashboard on the broker's HTTP port. */
export function createHttpServer(endpoints: HttpEndpoints): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
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
  });
}
