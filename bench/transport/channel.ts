// The one shape every stack is driven through: a bidirectional byte stream with callback handlers.
// Workloads and the server's responder are written once against it, so the stacks differ only in
// their adapter (felix.ts, highlevel.ts, tcp.ts), each written the way that stack is meant to be used.

export interface ByteChannel {
  /**
   * Queues bytes; false means wait for onDrain before writing more. The buffer may be kept until sent,
   * so it must not be modified afterwards (writing one immutable buffer many times is fine).
   */
  write(data: Buffer): boolean;
  /** Sends FIN after everything queued (and after `data`, when given). */
  end(data?: Buffer): void;
  /** Received bytes; the chunk may be a view into reused memory and is valid only during the call. */
  onData: (chunk: Buffer) => void;
  /** The peer sent FIN. */
  onEnd: () => void;
  /** Writing may resume after write() returned false. */
  onDrain: () => void;
}

export const ignore = (): void => undefined;

export interface ServerHandle {
  readonly port: number;
  close(): Promise<void>;
}

export interface ClientSession {
  readonly channel: ByteChannel;
  close(): Promise<void>;
}

/** What a stack module exports. `udpPayload` is ignored by TCP. */
export interface BenchStack {
  listen(opts: { udpPayload: number; onChannel: (channel: ByteChannel) => void }): Promise<ServerHandle>;
  connect(opts: { port: number; udpPayload: number }): Promise<ClientSession>;
}

export const STACK_NAMES = ['felix', 'highlevel', 'tcp'] as const;
export type StackName = (typeof STACK_NAMES)[number];

export const STACK_TITLES: Record<StackName, string> = {
  felix: 'felix-ts',
  highlevel: 'high-level API',
  tcp: 'TCP node:net',
};

/** Loaded on demand, so a TCP child never loads the QUIC binding. */
export async function loadStack(name: StackName): Promise<BenchStack> {
  switch (name) {
    case 'felix':
      return (await import('./felix.js')).felixStack;
    case 'highlevel':
      return (await import('./highlevel.js')).highLevelStack;
    case 'tcp':
      return (await import('./tcp.js')).tcpStack;
  }
}
