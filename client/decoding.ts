/**
 * How the SDK's frame decoders read what the broker sends. The client trusts the broker it connected to
 * with a large frame's declared length once an eighth of it has arrived: a 256 KiB event batch is then
 * assembled in one buffer of its own size instead of one doubled five times (half the allocation, no
 * re-copying; 1.26× delivered at fanout 10 × 4 KiB, where ten subscriber connections decode in one
 * process — docs/benchmarks.md, "Subscriber frame assembly"). The broker reads untrusted clients and keeps
 * the decoder's default.
 */
export const FULL_FRAME_AFTER = 1 / 8;
