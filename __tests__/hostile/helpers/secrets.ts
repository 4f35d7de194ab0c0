import { inspect } from 'node:util';

/** Shortest piece of a secret that counts as a leak (catches a secret cut in half by a length limit). */
export const LEAK_WINDOW = 12;

/** Every string a secret could be found in, tagged with where it came from. */
export class Haystack {
  private readonly parts: { where: string; text: string }[] = [];

  add(where: string, text: string | undefined): void {
    if (text !== undefined && text !== '') this.parts.push({ where, text });
  }

  /** An error as every tool would show it: message, stack, JSON, `util.inspect` (hidden fields too), `String()`. */
  addError(where: string, err: unknown): void {
    const e = err as { message?: unknown; stack?: unknown } | null;
    this.add(`${where} message`, typeof e?.message === 'string' ? e.message : undefined);
    this.add(`${where} stack`, typeof e?.stack === 'string' ? e.stack : undefined);
    this.add(`${where} JSON.stringify`, JSON.stringify(err));
    this.add(`${where} util.inspect`, inspect(err, { showHidden: true, depth: Infinity }));
    this.add(`${where} String`, String(err));
  }

  /** How many captured outputs came from a source whose name starts with `where`. */
  count(where: string): number {
    return this.parts.filter((p) => p.where.startsWith(where)).length;
  }

  get bytes(): number {
    return this.parts.reduce((n, p) => n + p.text.length, 0);
  }

  get size(): number {
    return this.parts.length;
  }

  /**
   * Where any secret, or any {@link LEAK_WINDOW}-character piece of one, appears. Each secret is looked for as
   * given and percent-encoded.
   */
  leaks(secrets: Iterable<string>): string[] {
    const pieces = new Map<string, string>();
    for (const secret of secrets) {
      for (const form of new Set([secret, encodeURIComponent(secret)])) {
        if (form.length < LEAK_WINDOW) {
          pieces.set(form, secret);
          continue;
        }
        for (let i = 0; i + LEAK_WINDOW <= form.length; i++) pieces.set(form.slice(i, i + LEAK_WINDOW), secret);
      }
    }
    const found: string[] = [];
    for (const { where, text } of this.parts) {
      for (let i = 0; i + LEAK_WINDOW <= text.length; i++) {
        const secret = pieces.get(text.slice(i, i + LEAK_WINDOW));
        if (secret !== undefined) {
          found.push(
            `${where}: …${text.slice(Math.max(0, i - 20), i + LEAK_WINDOW + 20)}… (from ${secret.slice(0, 6)}…)`,
          );
          break;
        }
      }
      for (const [piece, secret] of pieces) {
        if (piece.length < LEAK_WINDOW && text.includes(piece)) found.push(`${where}: contains ${secret.slice(0, 3)}…`);
      }
    }
    return found;
  }
}
