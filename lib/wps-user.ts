import type { WpsUser } from './types';

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Map WPS's `data` object of `GET /v7/users/current` onto a {@link WpsUser}; `undefined` without an id. */
export function toWpsUser(data: unknown): WpsUser | undefined {
  const d = typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {};
  const id = text(d.id);
  if (id === undefined) return undefined;
  const user: WpsUser = { id, name: text(d.user_name) ?? '' };
  const avatar = text(d.avatar);
  if (avatar !== undefined) user.avatar = avatar;
  const companyId = text(d.company_id);
  if (companyId !== undefined) user.companyId = companyId;
  return user;
}

/** Whether `value` looks like a stored {@link WpsUser} (sessions come from a store: never trust their shape). */
export function isWpsUser(value: unknown): value is WpsUser {
  const u = value as WpsUser | null | undefined;
  return typeof u === 'object' && u !== null && typeof u.id === 'string' && typeof u.name === 'string';
}
