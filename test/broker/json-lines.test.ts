// onJsonLines: how demos, benchmarks and tests read a broker's (or the impairment proxy's) JSON-lines stdout.
import { PassThrough } from 'node:stream';
import { expect, it } from 'vitest';
import { onJsonLines, type JsonLine } from '../../broker/json-lines.js';

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

it('yields each JSON object line once, across chunk boundaries, skipping lines that are not objects', async () => {
  const stream = new PassThrough();
  const seen: JsonLine[] = [];
  onJsonLines(stream, (entry) => seen.push(entry));
  stream.write('{"msg":"a","n":1}\n{"msg":');
  stream.write('"b"}\nnot json\n[1,2]\n42\n');
  stream.end('{"msg":"c"}\n');
  await settle();
  expect(seen).toEqual([{ msg: 'a', n: 1 }, { msg: 'b' }, { msg: 'c' }]);
});

it('stops parsing when told, and the stream is still read to its end', async () => {
  const stream = new PassThrough();
  const seen: JsonLine[] = [];
  const stop = onJsonLines(stream, (entry) => {
    seen.push(entry);
    stop();
  });
  stream.write('{"msg":"first"}\n{"msg":"second"}\n');
  await settle();
  stream.end('{"msg":"third"}\n');
  const ended = new Promise((r) => stream.once('end', r));
  await ended;
  expect(seen).toEqual([{ msg: 'first' }]);
});
