/**
 * What the hostile programs report (one JSON line on stdout each), shared with the test that reads them.
 */
import type { DatagramKind } from './garbage-datagrams.js';
import type { Category } from './hostile-cases.js';

export interface CategoryTally {
  cases: number;
  /** An error/publish_error reply, a RESET_STREAM or a STOP_SENDING came. */
  answered: number;
  /** The stream's later valid request was answered: the stream went on after the hostile frames. */
  continued: number;
  /** The broker closed the stream (FIN) without an error reply: a stream cut mid-frame, say. */
  closedQuietly: number;
  /** The case's connection closed under it. */
  connectionClosed: number;
}

export interface AttackSummary {
  seed: number;
  cases: number;
  errorReplies: number;
  resets: Record<string, number>;
  stopSendings: Record<string, number>;
  byCategory: Partial<Record<Category, CategoryTally>>;
  connectionCloses: { code: number; isApp: boolean; reason: string; byPeer: boolean }[];
  violations: { index: number; category: Category; problem: string }[];
  replay: string;
}

export interface FloodSummary {
  seed: number;
  sent: Record<DatagramKind, number>;
  sendErrors: number;
  /** Datagrams the broker sent back (version negotiation, say). */
  received: number;
}

export interface InitialFloodSummary {
  /** Genuine client Initials sent, and their bytes. */
  sent: number;
  sentBytes: number;
  sendErrors: number;
  /** Datagrams (and bytes) the server sent back: Retries, or the first flights of handshakes it started. */
  received: number;
  receivedBytes: number;
  /** How many of them were Retry packets. */
  retries: number;
  /** How long sending took (a slow machine stretches it; the count is fixed). */
  elapsedMs: number;
}
