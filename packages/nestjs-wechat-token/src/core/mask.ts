/** A secret or token as it may appear in logs and answers: its first and last 4 characters. */
export function mask(value: string | null | undefined): string | null {
  if (!value) return null;
  if (value.length <= 12) return '****';
  return `${value.slice(0, 4)}…${value.slice(-4)}`;
}
