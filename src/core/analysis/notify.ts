/**
 * `notify` webhooks: a JSON body with a Slack-compatible `text` field for step, pause, failure,
 * rollback and completion. A dead webhook never blocks a rollback: every send has a total
 * budget (attempts × timeout) and `notifyAll` never rejects.
 */

/** What happened. */
export type NotifyEvent = 'step' | 'pause' | 'failure' | 'rollback' | 'completion';

/** One message. `text` is what Slack shows; the rest is for machines. */
export interface NotifyMessage {
  event: NotifyEvent;
  text: string;
  [key: string]: unknown;
}

/** Webhook settings (defaults: 2 attempts, 3 s each). */
export interface NotifyOptions {
  attempts?: number;
  timeoutMs?: number;
}

/** One webhook's outcome (never thrown). */
export interface NotifyOutcome {
  url: string;
  ok: boolean;
  error?: string;
}

/**
 * Posts `message` to every URL in parallel with retries; resolves within about attempts × timeoutMs
 * whatever the receivers do, with each outcome.
 */
export async function notifyAll(urls: readonly string[], message: NotifyMessage, options: NotifyOptions = {}): Promise<NotifyOutcome[]> {
  const attempts = Math.max(1, options.attempts ?? 2);
  const timeoutMs = options.timeoutMs ?? 3000;
  const body = JSON.stringify(message);
  return Promise.all(
    urls.map(async (url): Promise<NotifyOutcome> => {
      let error = '';
      for (let i = 0; i < attempts; i++) {
        try {
          const res = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
            signal: AbortSignal.timeout(timeoutMs),
          });
          await res.body?.cancel();
          if (res.ok) return { url, ok: true };
          error = `HTTP ${res.status}`;
        } catch (e) {
          error = e instanceof Error ? e.message : String(e);
        }
      }
      return { url, ok: false, error };
    }),
  );
}
