/** The form fields whose names start with `prefix`, by the rest of their name (strings only). */
export function fieldsWith(body: Record<string, unknown>, prefix: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(body ?? {}))
    if (name.startsWith(prefix) && typeof value === 'string')
      out[name.slice(prefix.length)] = value;
  return out;
}
