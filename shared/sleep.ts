/** Resolves after `ms` milliseconds: the one timer-based wait (backoff between retries, polling). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
