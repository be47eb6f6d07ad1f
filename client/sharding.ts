/**
 * Which publish worker a publish takes (FELIX_PUB_SHARDING). `hash_stream` hashes tenant, namespace and
 * stream, so every publish to one stream takes the same worker (one QUIC stream, one order); `rr` rotates
 * through the workers, spreading one hot stream over all of them at the cost of order between publishes.
 */
export type ShardingMode = 'hash_stream' | 'rr';

/** FNV-1a (32-bit) over the three names with a separator no name contains, so ("a","bc") ≠ ("ab","c"). */
export function streamHash(tenant: string, namespace: string, stream: string): number {
  let hash = 0x811c9dc5;
  hash = mix(hash, tenant);
  hash = Math.imul(hash ^ 0, 0x01000193);
  hash = mix(hash, namespace);
  hash = Math.imul(hash ^ 0, 0x01000193);
  hash = mix(hash, stream);
  return hash >>> 0;
}

function mix(hash: number, text: string): number {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    hash = Math.imul(hash ^ (unit & 0xff), 0x01000193);
    hash = Math.imul(hash ^ (unit >>> 8), 0x01000193);
  }
  return hash;
}

export class WorkerPicker {
  private cursor = 0;

  constructor(
    readonly mode: ShardingMode,
    readonly workers: number,
  ) {}

  /** The worker for a publish to a stream whose streamHash is `hash`. */
  pick(hash: number): number {
    if (this.mode === 'hash_stream') return hash % this.workers;
    const index = this.cursor;
    this.cursor = index + 1 === this.workers ? 0 : index + 1;
    return index;
  }
}
