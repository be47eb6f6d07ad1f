/**
 * fast-check arbitraries for hostile FLX1 input: what a broken or malicious client may put on a stream.
 * Each arbitrary yields HostileFrames (the bytes of one frame, or of what is meant to look like one) or
 * whole HostileCases (an optional auth, a run of frames, how the bytes are split into chunks, whether the
 * client ends the stream). Valid requests come from wire/'s own encoders, so mutations start from frames
 * the broker really accepts. One module per class of input, in hostile-frames/; this is the one import.
 *
 * Free of any test runner, so the in-process property suite (test/engine/) and the cross-process attacker
 * (scripts/hostile/) can share it. Uses wire/, msgpackr and fast-check only.
 */
export * from './hostile-frames/frames.js';
export * from './hostile-frames/valid.js';
export * from './hostile-frames/chunks.js';
export * from './hostile-frames/headers.js';
export * from './hostile-frames/binary.js';
export * from './hostile-frames/json.js';
export * from './hostile-frames/msgpack.js';
export * from './hostile-frames/messages.js';
export * from './hostile-frames/cases.js';
