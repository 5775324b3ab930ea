/** A Postgres URL fit for a log line: the password replaced by `****`. */
export function maskDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '****';
    return parsed.toString();
  } catch {
    return '<unparsable DATABASE_URL>';
  }
}
