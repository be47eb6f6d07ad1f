// Child process: one benchmark server for one stack. Prints {"port":N} once listening, serves every
// client the runner starts, and exits when its stdin closes (an orderly exit, so --cpu-prof can write
// its profile; it also means a dying runner never leaves servers behind).
import { loadStack, type StackName } from './channel.js';
import { respond } from './responder.js';

export interface ServerArgs {
  readonly stack: StackName;
  readonly udpPayload: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as ServerArgs;
const stack = await loadStack(args.stack);
const server = await stack.listen({ udpPayload: args.udpPayload, onChannel: respond });
process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);

process.stdin.resume();
process.stdin.once('close', () => {
  const exit = (): never => process.exit(0);
  // A stack that cannot close cleanly must not keep the runner waiting.
  setTimeout(exit, 2000).unref();
  server.close().then(exit, exit);
});
