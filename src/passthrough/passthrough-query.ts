/**
 * The query of a forwarded WeChat call, kept as the client sent it: only the
 * value of one parameter (`access_token`, `secret`) is ever replaced, every
 * other byte goes to WeChat untouched (WeChat reads some parameters in the
 * order and encoding they came in, e.g. a signed `/sns` call).
 */
export class RawQuery {
  /** `a=1&b=2`, without the `?`; empty when the URL has none. */
  readonly text: string;

  constructor(url: string) {
    const mark = url.indexOf('?');
    this.text = mark === -1 ? '' : url.slice(mark + 1);
  }

  /** Whether a parameter's name is one of `names` once percent-decoded, but not as sent (`%61ccess_token`). */
  hasEncodedName(names: readonly string[]): boolean {
    if (!this.text.includes('%') && !this.text.includes('+')) return false;
    return this.text.split('&').some((piece) => {
      const equals = piece.indexOf('=');
      const name = equals === -1 ? piece : piece.slice(0, equals);
      if (names.includes(name)) return false;
      try {
        return names.includes(decodeURIComponent(name.replaceAll('+', ' ')));
      } catch {
        return false;
      }
    });
  }

  /**
   * The query with the value of every `name=…` piece replaced by the one
   * given for that name (percent-encoded). Names are compared as sent: a
   * call with a credential's name percent-encoded is refused before
   * (`hasEncodedName`).
   */
  with(values: Readonly<Record<string, string>>): string {
    if (Object.keys(values).length === 0) return this.text;
    return this.text
      .split('&')
      .map((piece) => {
        const equals = piece.indexOf('=');
        const name = equals === -1 ? piece : piece.slice(0, equals);
        return Object.hasOwn(values, name) ? `${name}=${encodeURIComponent(values[name])}` : piece;
      })
      .join('&');
  }
}

/** The parameter's one value; `undefined` when missing or empty, `null` when given more than once. */
export function single(value: unknown): string | undefined | null {
  if (Array.isArray(value)) return null;
  return typeof value === 'string' && value !== '' ? value : undefined;
}
