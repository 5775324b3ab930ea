/**
 * The names of the secrets that appear in `output` (never their values, so a
 * failing assertion does not print them): `expect(leakedSecrets(out, { AppSecret: s })).toEqual([])`.
 */
export function leakedSecrets(output: string, secrets: Record<string, string>): string[] {
  return Object.entries(secrets)
    .filter(([, value]) => value !== '' && output.includes(value))
    .map(([name]) => name);
}
