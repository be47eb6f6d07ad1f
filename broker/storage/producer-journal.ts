/**
 * Which idempotent producers' publishes (IDEMPOTENT_PUBLISH: producer id and sequence) a durable stream's
 * log holds, kept beside the log so that the broker's duplicate window survives a restart or a crash: a
 * publish the SDK resends after reconnecting — written before the crash, its ack lost with it — is
 * acknowledged again instead of appended twice, as it would have been without the restart. JetStream
 * rebuilds its duplicate window from its stored messages the same way.
 *
 * File `producers.journal` in the stream's directory, a sequence of entries, each
 *
 *   u32 CRC-32 of the rest | u16 body length | body:
 *   u16 tenant length | tenant (UTF-8) | f64 producer id | f64 first sequence | f64 last sequence |
 *   f64 end offset | f64 written at (ms since the epoch)
 *
 * An entry claims: the log holds, below `end offset`, the producer's publishes numbered first..last. Entries
 * are appended from the event loop just before the log write holding those publishes is made, so that a
 * process killed at any moment after that write reached the file has them (written after it, a kill -9
 * between the two left events without their claims: their resends were appended twice). Recovery trusts an
 * entry only when the recovered log is whole up to its end offset, and rewrites the file with only the
 * trusted ones before the log can grow again: a claim whose write never made it is dropped, never
 * outliving the events it stands for, so what a crash took back is appended when resent, never
 * acknowledged unstored. A claim lost (a journal that cannot be written) costs only what there was before:
 * the resend is appended again.
 *
 * Bounded: at most `maxProducers` producers (FELIX_DEDUP_MAX_PRODUCERS, the least recently written
 * forgotten first, as the broker's window forgets them), per producer the ranges of its last
 * WINDOW_SEQUENCES sequences, and the file is rewritten from them (producers idle for longer than the dedup
 * window left out) once it grows past COMPACT_BYTES or twice its size after the last rewrite, whichever is
 * larger: a journal of many producers is rewritten at a cost spread over as many bytes appended, never on
 * every write.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { WINDOW_SEQUENCES } from '../core/producer-dedup.js';
import { removedOnFailure } from './atomic-file.js';

export const JOURNAL_FILE = 'producers.journal';
/** The file is rewritten from memory once it grows past this. */
const COMPACT_BYTES = 1024 * 1024;
/** Ranges remembered per producer: a producer resending out of order splits its sequences into many. */
const MAX_RANGES = 256;
const FIXED_BODY_BYTES = 2 + 5 * 8;
const HEADER_BYTES = 4 + 2;
/** Tenant names are short (docs/protocol.md, Names); a longer one in the file is damage. */
const MAX_TENANT_BYTES = 1024;

/** One producer's publishes `first..last` are in the log below `end`. */
export interface ProducerClaim {
  readonly tenant: string;
  readonly producerId: number;
  readonly first: number;
  readonly last: number;
  readonly end: number;
  readonly at: number;
}

/** What the journal remembers of one producer. */
interface ProducerRanges {
  tenant: string;
  /** Disjoint ranges, flat: [first0, last0, first1, last1, …], in the order they were written. */
  ranges: number[];
  /** The highest sequence held. */
  high: number;
  /** The end offset of the latest write holding one of its publishes. */
  end: number;
  /** When that write completed (ms since the epoch). */
  at: number;
}

export class ProducerJournal {
  private fd: number;
  private size = 0;
  /** The size past which the file is rewritten. */
  private compactAt = COMPACT_BYTES;
  private readonly producers = new Map<number, ProducerRanges>();
  /** Publishes accepted and not yet in a completed write, in publish order (end offsets never fall). */
  private noted = 0;
  private readonly notedTenant: string[] = [];
  private readonly notedProducer: number[] = [];
  private readonly notedSequence: number[] = [];
  private readonly notedEnd: number[] = [];

  private constructor(
    private readonly path: string,
    private readonly windowMs: number,
    private readonly maxProducers: number,
  ) {
    this.fd = -1;
  }

  /**
   * Opens the journal of the stream in `dir` and recovers it: the claims that hold for a log whole below
   * `intactTo` (and within the dedup window of the newest) are kept, the file is rewritten with only those,
   * and they are returned for the broker's duplicate window. `skipped` counts entries found unreadable.
   */
  static open(
    dir: string,
    windowMs: number,
    intactTo: number,
    maxProducers = Number.MAX_SAFE_INTEGER,
  ): { journal: ProducerJournal; claims: ProducerClaim[]; dropped: number; unreadable: boolean } {
    const journal = new ProducerJournal(join(dir, JOURNAL_FILE), windowMs, maxProducers);
    let bytes: Buffer | null = null;
    try {
      bytes = fs.readFileSync(journal.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const { claims: read, whole } = bytes === null ? { claims: [], whole: true } : parseJournal(bytes);
    let newest = 0;
    for (const c of read) if (c.at > newest) newest = c.at;
    const oldest = newest - windowMs;
    let dropped = 0;
    for (const c of read) {
      if (c.end > intactTo || c.at < oldest) {
        dropped++;
        continue;
      }
      journal.remember(c.tenant, c.producerId, c.first, c.last, c.end, c.at);
    }
    // Rewritten with only what holds (nothing to do for a stream that never had one).
    if (bytes !== null) journal.rewrite();
    return { journal, claims: journal.claims(), dropped, unreadable: !whole };
  }

  /** An acked publish of `producerId` numbered `sequence` was accepted; its events end below `end`. */
  note(tenant: string, producerId: number, sequence: number, end: number): void {
    const i = this.noted++;
    this.notedTenant[i] = tenant;
    this.notedProducer[i] = producerId;
    this.notedSequence[i] = sequence;
    this.notedEnd[i] = end;
  }

  /**
   * The log is written below `writtenEnd`: appends the claims of every noted publish it now holds (one
   * entry per run of consecutive sequences of a producer). Throws what the file system throws.
   */
  written(writtenEnd: number, now: number): void {
    const noted = this.noted;
    let n = 0;
    while (n < noted && this.notedEnd[n]! <= writtenEnd) n++;
    if (n === 0) return;
    const entries: Buffer[] = [];
    let runStart = 0;
    for (let i = 1; i <= n; i++) {
      const continues =
        i < n &&
        this.notedProducer[i] === this.notedProducer[i - 1] &&
        this.notedTenant[i] === this.notedTenant[i - 1] &&
        this.notedSequence[i] === this.notedSequence[i - 1]! + 1;
      if (continues) continue;
      const claim: ProducerClaim = {
        tenant: this.notedTenant[runStart]!,
        producerId: this.notedProducer[runStart]!,
        first: this.notedSequence[runStart]!,
        last: this.notedSequence[i - 1]!,
        end: this.notedEnd[i - 1]!,
        at: now,
      };
      entries.push(encodeClaim(claim));
      this.remember(claim.tenant, claim.producerId, claim.first, claim.last, claim.end, now);
      runStart = i;
    }
    this.dropNoted(n);
    const block = entries.length === 1 ? entries[0]! : Buffer.concat(entries);
    // Opened on first use: a stream no idempotent producer publishes to holds no file descriptor for it.
    if (this.fd < 0) this.fd = fs.openSync(this.path, 'a');
    fs.writeSync(this.fd, block);
    this.size += block.length;
    if (this.size > this.compactAt) this.rewrite(now);
  }

  close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    fs.closeSync(fd);
  }

  /** Every claim held in memory, one per range. */
  claims(): ProducerClaim[] {
    const out: ProducerClaim[] = [];
    for (const [producerId, p] of this.producers) {
      for (let i = 0; i < p.ranges.length; i += 2) {
        out.push({
          tenant: p.tenant,
          producerId,
          first: p.ranges[i]!,
          last: p.ranges[i + 1]!,
          end: p.end,
          at: p.at,
        });
      }
    }
    return out;
  }

  private dropNoted(n: number): void {
    this.notedTenant.splice(0, n);
    this.notedProducer.splice(0, n);
    this.notedSequence.splice(0, n);
    this.notedEnd.splice(0, n);
    this.noted -= n;
  }

  /** Adds first..last to what is remembered of the producer, keeping only its last WINDOW_SEQUENCES. */
  private remember(
    tenant: string,
    producerId: number,
    first: number,
    last: number,
    end: number,
    at: number,
  ): void {
    let p = this.producers.get(producerId);
    if (p === undefined || p.tenant !== tenant) {
      p = { tenant, ranges: [], high: 0, end: 0, at: 0 };
    } else {
      // Most recently written last: the front of the map is what is forgotten first.
      this.producers.delete(producerId);
    }
    this.producers.set(producerId, p);
    if (this.producers.size > this.maxProducers) {
      this.producers.delete(this.producers.keys().next().value as number);
    }
    const r = p.ranges;
    const n = r.length;
    if (n > 0 && r[n - 1]! + 1 === first) r[n - 1] = last;
    else r.push(first, last);
    if (last > p.high) p.high = last;
    if (end > p.end) p.end = end;
    if (at > p.at) p.at = at;
    // Below the window every sequence counts as accepted anyway (ProducerState): those ranges go.
    const floor = p.high - WINDOW_SEQUENCES;
    let keepFrom = 0;
    for (let i = 0; i < r.length; i += 2) {
      if (r[i + 1]! <= floor) keepFrom = i + 2;
      else if (r[i]! <= floor) r[i] = floor + 1;
    }
    if (r.length - keepFrom > 2 * MAX_RANGES) keepFrom = r.length - 2 * MAX_RANGES;
    if (keepFrom > 0) r.splice(0, keepFrom);
  }

  /**
   * Writes what memory holds to a new file, renamed over the old one (a crash leaves one or the other),
   * leaving out producers idle for longer than the window; the next append opens it.
   */
  private rewrite(now?: number): void {
    if (now !== undefined) {
      for (const [id, p] of this.producers) if (p.at < now - this.windowMs) this.producers.delete(id);
    }
    const block = Buffer.concat(this.claims().map(encodeClaim));
    const temporary = `${this.path}.tmp`;
    removedOnFailure(temporary, () => {
      fs.writeFileSync(temporary, block);
      fs.renameSync(temporary, this.path);
    });
    this.close();
    this.size = block.length;
    this.compactAt = Math.max(COMPACT_BYTES, 2 * block.length);
  }
}

export function encodeClaim(c: ProducerClaim): Buffer {
  const tenant = Buffer.from(c.tenant, 'utf8');
  const body = FIXED_BODY_BYTES + tenant.length;
  const out = Buffer.allocUnsafe(HEADER_BYTES + body);
  out.writeUInt16BE(body, 4);
  let at = HEADER_BYTES;
  at = out.writeUInt16BE(tenant.length, at);
  at += tenant.copy(out, at);
  at = out.writeDoubleBE(c.producerId, at);
  at = out.writeDoubleBE(c.first, at);
  at = out.writeDoubleBE(c.last, at);
  at = out.writeDoubleBE(c.end, at);
  out.writeDoubleBE(c.at, at);
  out.writeUInt32BE(crc32(out.subarray(4)), 0);
  return out;
}

/**
 * The claims in a journal's bytes, up to the first entry that is short, fails its checksum or does not make
 * sense (`whole` false then: a torn last append, or damage — what follows is not trusted either).
 */
export function parseJournal(bytes: Buffer): { claims: ProducerClaim[]; whole: boolean } {
  const claims: ProducerClaim[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (bytes.length - at < HEADER_BYTES) return { claims, whole: false };
    const body = bytes.readUInt16BE(at + 4);
    const end = at + HEADER_BYTES + body;
    if (body < FIXED_BODY_BYTES || end > bytes.length) return { claims, whole: false };
    if (crc32(bytes.subarray(at + 4, end)) !== bytes.readUInt32BE(at)) return { claims, whole: false };
    const tenantBytes = bytes.readUInt16BE(at + HEADER_BYTES);
    if (tenantBytes > MAX_TENANT_BYTES || FIXED_BODY_BYTES + tenantBytes !== body) {
      return { claims, whole: false };
    }
    let p = at + HEADER_BYTES + 2;
    const tenant = bytes.toString('utf8', p, p + tenantBytes);
    p += tenantBytes;
    const claim: ProducerClaim = {
      tenant,
      producerId: bytes.readDoubleBE(p),
      first: bytes.readDoubleBE(p + 8),
      last: bytes.readDoubleBE(p + 16),
      end: bytes.readDoubleBE(p + 24),
      at: bytes.readDoubleBE(p + 32),
    };
    if (!sensible(claim)) return { claims, whole: false };
    claims.push(claim);
    at = end;
  }
  return { claims, whole: true };
}

function sensible(c: ProducerClaim): boolean {
  return (
    Number.isSafeInteger(c.producerId) &&
    c.producerId !== 0 &&
    Number.isSafeInteger(c.first) &&
    Number.isSafeInteger(c.last) &&
    c.first >= 1 &&
    c.last >= c.first &&
    Number.isSafeInteger(c.end) &&
    c.end >= 0 &&
    Number.isFinite(c.at)
  );
}
