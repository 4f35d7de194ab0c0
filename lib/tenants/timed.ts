/** `<time>|<value>`, the stored form of a value that carries its event time. */
export function timed(time: number, value: string): string {
  return `${time}|${value}`;
}

/** The time and value of a {@link timed} string; `undefined` when it is not one. */
export function untimed(stored: string | null | undefined): { time: number; value: string } | undefined {
  const match = stored == null ? null : /^(\d{1,15})\|([\s\S]*)$/.exec(stored);
  return match === null ? undefined : { time: Number(match[1]), value: match[2] ?? '' };
}
