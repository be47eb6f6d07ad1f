import { createRequire } from 'node:module';

/**
 * The few libc calls Node does not make — the socket calls its dgram lacks (sendmsg with a segment size
 * or a source address, recvmmsg, setsockopt for the options those need) and glibc's malloc_trim (broker/idle-memory.ts) — through koffi, an FFI whose npm package
 * carries prebuilt binaries. Loaded once, on first use; where it cannot be (another OS or architecture,
 * koffi missing) the reason is returned and callers keep to what Node does.
 */
export interface Libc {
  readonly sendmsg: (fd: number, msg: number, flags: number) => number;
  readonly recvmmsg: (fd: number, vec: number, vlen: number, flags: number, timeout: number) => number;
  /**
   * A duplicate of `fd` closed on exec (fcntl F_DUPFD_CLOEXEC): a child process started later does not
   * inherit it, and so cannot keep the socket, and its port, open after this process closes it.
   */
  readonly dupCloexec: (fd: number) => number;
  readonly close: (fd: number) => number;
  /** setsockopt with an int option value (1 to turn an option on); 0, or -1 with errno. */
  readonly setIntOption: (fd: number, level: number, name: number, value: number) => number;
  /** errno of the last call on this thread. */
  readonly errno: () => number;
  /** The address of a Buffer's first byte (stable: a Buffer's memory is never moved once it has one). */
  readonly address: (b: Buffer) => number;
  /**
   * Watches `fd` for readability in Node's event loop (libuv uv_poll); the handle must be kept referenced.
   * `failed`: the descriptor reported an error (POLLERR), and libuv stopped watching it (restart()).
   */
  readonly pollReadable: (fd: number, onReadable: (failed: boolean) => void) => PollHandle;
  /** glibc's malloc_trim(0) on libuv's thread pool (koffi's asynchronous call); `done` on the loop after. */
  readonly mallocTrimAsync: (done: () => void) => void;
}

export interface PollHandle {
  /** Watches again after libuv stopped on an error. */
  restart(): void;
  stop(): void;
  close(): void;
}

export const EINTR = 4;
export const EAGAIN = 11;
/** A connected UDP socket's pending ICMP port unreachable: nothing listens at the peer's port. */
export const ECONNREFUSED = 111;
export const MSG_DONTWAIT = 0x40;
const F_DUPFD_CLOEXEC = 1030;

let loaded: Libc | string | undefined;

export function loadLibc(): Libc | string {
  if (loaded !== undefined) return loaded;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    loaded = `Linux x64 only (this is ${process.platform} ${process.arch})`;
    return loaded;
  }
  try {
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    const lib = koffi.load('libc.so.6');
    const poll = koffi.node.poll;
    loaded = {
      sendmsg: lib.func('long sendmsg(int fd, uintptr_t msg, int flags)') as Libc['sendmsg'],
      recvmmsg: lib.func(
        'int recvmmsg(int fd, uintptr_t vec, unsigned int vlen, int flags, uintptr_t timeout)',
      ) as Libc['recvmmsg'],
      dupCloexec: ((): Libc['dupCloexec'] => {
        const fcntl = lib.func('int fcntl(int fd, int cmd, ...)');
        return (fd) => fcntl(fd, F_DUPFD_CLOEXEC, 'int', 0) as number;
      })(),
      close: lib.func('int close(int fd)') as Libc['close'],
      setIntOption: ((): Libc['setIntOption'] => {
        const setsockopt = lib.func(
          'int setsockopt(int fd, int level, int name, _In_ int *value, unsigned int length)',
        );
        return (fd, level, name, value) => setsockopt(fd, level, name, [value], 4) as number;
      })(),
      errno: () => koffi.errno(),
      mallocTrimAsync: ((): Libc['mallocTrimAsync'] => {
        const mallocTrim = lib.func('int malloc_trim(size_t pad)');
        return (done) => mallocTrim.async(0, () => done());
      })(),
      address: (b) => Number(koffi.address(b)),
      pollReadable: (fd, onReadable) => {
        // koffi calls back with (status, events) (src/koffi/src/uv.cc); its typings name only the events.
        type PollCallback = (ev: import('koffi').node.PollEvents) => void;
        const listener = ((status: number): void => onReadable(status < 0)) as unknown as PollCallback;
        const handle = poll(fd, { readable: true }, listener);
        return {
          restart: () => handle.start({ readable: true }, listener),
          stop: () => handle.stop(),
          close: () => handle.close(),
        };
      },
    };
  } catch (error) {
    loaded = `koffi or libc.so.6 could not be loaded: ${(error as Error).message}`;
  }
  return loaded;
}

/** The descriptor of a bound or connected dgram socket's libuv handle, and the handle (-1, null: none). */
export function socketHandle(socket: object): { fd: number; handle: UdpHandle | null } {
  for (const key of Object.getOwnPropertySymbols(socket)) {
    const state = (socket as Record<symbol, { handle?: UdpHandle } | undefined>)[key];
    const handle = state?.handle;
    if (handle !== undefined && typeof handle.fd === 'number') return { fd: handle.fd, handle };
  }
  return { fd: -1, handle: null };
}

/** The part of Node's internal UDP handle the transport uses: where it reads, and stopping that. */
export interface UdpHandle {
  readonly fd: number;
  recvStart(): number;
  recvStop(): number;
}

/** Writes a user-space address (below 2^53) as a little-endian u64 without a BigInt. */
export function writeAddress(buf: Buffer, at: number, address: number): void {
  buf.writeUInt32LE(address % 0x1_0000_0000, at);
  buf.writeUInt32LE(Math.floor(address / 0x1_0000_0000), at + 4);
}
