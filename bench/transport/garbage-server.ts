// Garbage benchmark, server child: a transport Endpoint on 127.0.0.1 that echoes every stream (the
// good client's requests) and reports its own CPU time on request. Commands on stdin: `cpu` → one line
// {"cpuMicros": user+system, "userMicros", "systemMicros", "atMs"}. Exits when stdin closes.
import { performance } from 'node:perf_hooks';
import { Endpoint, generateSelfSignedCertificate } from '../../transport/index.js';
import { onCommands, report } from './garbage-children.js';

export interface CpuSample {
  readonly cpuMicros: number;
  readonly userMicros: number;
  readonly systemMicros: number;
  readonly atMs: number;
}

const endpoint = await Endpoint.listen({
  host: '127.0.0.1',
  port: 0,
  tls: await generateSelfSignedCertificate(),
  onConnection(connection) {
    connection.onStream = (stream) => {
      stream.onData = (chunk, fin) => {
        // The chunk is a view of the endpoint's scratch buffer: the echo must not keep it.
        stream.writeTransient(chunk);
        if (fin) stream.end();
      };
    };
  },
});

report({ port: endpoint.address.port });

onCommands(
  (command) => {
    if (command !== 'cpu') return;
    const cpu = process.cpuUsage();
    const sample: CpuSample = {
      cpuMicros: cpu.user + cpu.system,
      userMicros: cpu.user,
      systemMicros: cpu.system,
      atMs: performance.now(),
    };
    report(sample);
  },
  () => {
    void endpoint.close({ timeoutMs: 200 }).then(() => process.exit(0));
  },
);
