// README.md, "Live dashboard", tells operators where the dashboard's feed is and what a snapshot holds, for
// clients other than the page. Checked against a broker process: the path, the stream's framing, and the
// snapshot's top-level fields — a field added to DashboardSnapshot without a word in the README fails here.
import { get, type IncomingMessage } from 'node:http';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { spawnBroker } from '../e2e/broker-process.js';

/** The backticked names in the first cells of the README's `| snapshot field | what |` table. */
function documentedFields(): string[] {
  const lines = readFileSync('README.md', 'utf8').split('\n');
  const header = lines.findIndex((line) => /^\| snapshot field +\|/.test(line));
  expect(header, 'the snapshot field table').toBeGreaterThan(0);
  const rows = [];
  for (let i = header + 2; lines[i]?.startsWith('|'); i++) rows.push(lines[i]!.split('|')[1]!);
  return rows.flatMap((cell) => [...cell.matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]!)).sort();
}

/** Reads the event stream until its first event; returns what came before it and the event's lines. */
function firstEvent(res: IncomingMessage): Promise<{ preamble: string; id: string; data: string }> {
  return new Promise((resolve, reject) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      text += chunk;
      const m = /^([\s\S]*?)id: (\d+)\ndata: (.*)\n\n/.exec(text);
      if (m === null) return;
      res.destroy();
      resolve({ preamble: m[1]!, id: m[2]!, data: m[3]! });
    });
    res.on('error', reject);
  });
}

describe('README.md, the dashboard feed', () => {
  it('is /dashboard/events, as documented, and its snapshots have exactly the fields the README lists', async () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(readme).toContain('`GET /dashboard/events` is a Server-Sent Events stream');
    const broker = await spawnBroker();
    const res = await new Promise<IncomingMessage>((resolve, reject) =>
      get(`http://127.0.0.1:${broker.httpPort}/dashboard/events`, resolve).on('error', reject),
    );
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    const event = await firstEvent(res);
    expect(event.preamble).toBe('retry: 2000\n\n');
    const snapshot = JSON.parse(event.data) as Record<string, unknown>;
    expect(snapshot.tick).toBe(Number(event.id));
    expect(snapshot.tick).toBe(1);
    expect(Object.keys(snapshot).sort()).toEqual(documentedFields());
  });
});
