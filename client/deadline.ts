/**
 * Bounds a wait. `onTimeout` runs when the time is up: it cleans up what was being waited for (closes the
 * handshaking connection, aborts the stream) and returns the error the caller sees. Only for waits that
 * happen once per connection, stream or close, never per message.
 */
export function withDeadline<T>(promise: Promise<T>, timeoutMs: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), timeoutMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** Waits for `promise` at most `timeoutMs`; resolves false when time ran out first. Never rejects. */
export function settledWithin(promise: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  if (timeoutMs <= 0) return Promise.resolve(false);
  return withDeadline(
    promise.then(
      () => true,
      () => true,
    ),
    timeoutMs,
    () => new Error('deadline'),
  ).catch(() => false);
}

export function noop(): void {}
