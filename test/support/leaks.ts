/**
 * Where each secret appears, as `<secret's name> in <place>` — never the
 * value, so a failing assertion does not print it:
 * `expect(leakedSecrets({ output }, { AppSecret: secret })).toEqual([])`.
 */
export function leakedSecrets(places: Record<string, string>, secrets: Record<string, string>): string[] {
  return Object.entries(secrets).flatMap(([name, value]) =>
    value === ''
      ? []
      : Object.entries(places)
          .filter(([, text]) => text.includes(value))
          .map(([where]) => `${name} in ${where}`),
  );
}

/** An HTTP answer laid out to be searched for secrets: every header (`name: value` a line) and the body. */
export interface AnswerText {
  status: number;
  headers: string;
  text: string;
}

/** Fetches `url` and keeps all of the answer that could carry a secret. */
export async function fetchAnswerText(url: string, init: RequestInit = {}): Promise<AnswerText> {
  const response = await fetch(url, init);
  const headers = [...response.headers].map(([name, value]) => `${name}: ${value}`).join('\n');
  return { status: response.status, headers, text: await response.text() };
}
