import { describe, expect, it } from 'vitest';
import { defaultOpenStreams, readSoftFileLimit } from '../../broker/storage/file-limit.js';

describe('the default bound on durable streams with open files', () => {
  it('leaves a quarter of the open-file limit (at least 64) to sockets, two files per stream', () => {
    expect(defaultOpenStreams(256)).toBe(96);
    expect(defaultOpenStreams(1024)).toBe(384);
    expect(defaultOpenStreams(100)).toBe(18);
    expect(defaultOpenStreams(64)).toBe(16);
    expect(defaultOpenStreams(1_048_576)).toBe(4096);
    expect(defaultOpenStreams(Number.POSITIVE_INFINITY)).toBe(4096);
    expect(defaultOpenStreams(undefined)).toBe(64);
  });

  it('reads the soft limit of this process where Linux shows it', () => {
    const limit = readSoftFileLimit();
    if (limit === undefined) return;
    expect(limit).toBeGreaterThan(0);
  });
});
