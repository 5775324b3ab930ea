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
