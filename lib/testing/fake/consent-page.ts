import type { FakeWpsUser } from './options';

// Styled like the example app (system-ui, a centred card, blue buttons) and self-contained: inline CSS, the icon
// as a data URI (so the browser asks for no /favicon.ico), no script, nothing from the network.
const LOGO =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#1a5fff"/>' +
  '<path d="M7 10l3.5 12L16 13l5.5 9L25 10" fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round" ' +
  'stroke-linejoin="round"/></svg>';
const CSS = [
  '*{box-sizing:border-box}',
  'body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2329;background:#f2f4f8}',
  '.top{background:#fff;border-bottom:1px solid #e3e6eb}',
  '.top-in{max-width:28rem;margin:0 auto;padding:.75rem 0;display:flex;align-items:center;gap:.5rem}',
  '.top svg{width:28px;height:28px}.brand{font-weight:700;font-size:1.05rem}.sub{color:#646a73;font-size:.9rem}',
  '.card{max-width:28rem;margin:2rem auto;background:#fff;border:1px solid #e3e6eb;border-radius:12px;' +
    'padding:1.5rem;box-shadow:0 2px 8px rgba(31,35,41,.06)}',
  '@media (max-width:30rem){.top-in{padding:.75rem}.card{margin:1rem .75rem;padding:1.25rem}}',
  'h1{font-size:1.35rem;margin:0 0 1rem}p{margin:.75rem 0}',
  '.account{display:flex;align-items:center;gap:.75rem;padding:.75rem;background:#f5f7fa;border-radius:8px}',
  '.avatar{flex:none;width:2.5rem;height:2.5rem;border-radius:50%;background:#1a5fff;color:#fff;display:grid;' +
    'place-items:center;font-weight:600}',
  'code{background:#f0f1f3;padding:0 .3rem;border-radius:4px;font-size:.9em;overflow-wrap:anywhere}',
  'ul{list-style:none;padding:0;margin:0 0 1.25rem}',
  'li{padding:.5rem .75rem;border:1px solid #e3e6eb;border-radius:8px;margin:.4rem 0;font-family:ui-monospace,' +
    'monospace;font-size:.9rem;overflow-wrap:anywhere}',
  'li::before{content:"\\2713";color:#1a5fff;font-weight:700;margin-right:.5rem}',
  '.actions{display:flex;gap:.75rem}.actions form{flex:1;margin:0}',
  'button{width:100%;font:inherit;font-weight:600;padding:.65rem 1rem;border-radius:8px;cursor:pointer;' +
    'border:1px solid #1a5fff;background:#1a5fff;color:#fff}',
  'button:focus-visible{outline:3px solid #9dbbff;outline-offset:2px}',
  '#wps-deny{background:#fff;color:#1a5fff}',
  '.fine{color:#646a73;font-size:.85rem;margin:1.25rem 0 0}.fine code{white-space:nowrap}',
].join('');

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] ?? char);
}

/** Up to two initials for the avatar circle, e.g. `'DU'` for `'Demo User'`. */
function initialsOf(name: string): string {
  return name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((word) => word.charAt(0).toUpperCase())
    .join('');
}

/** One line per form: tests match each form, from <form> to </form>, as a single line. */
function decisionForm(requestId: string, decision: 'allow' | 'deny', id: string, label: string): string {
  return (
    `<form method="post" action="/oauth2/auth/decision">` +
    `<input type="hidden" name="request_id" value="${escapeHtml(requestId)}">` +
    `<input type="hidden" name="decision" value="${decision}">` +
    `<button type="submit" id="${id}">${label}</button></form>`
  );
}

/**
 * The consent page of `consent: 'page'`: who is signed in, which app asks for which scopes, and Allow/Deny buttons
 * (ids `wps-allow`, `wps-deny`) that post the decision for `requestId`; every value is HTML-escaped.
 */
export function renderConsentPage(user: FakeWpsUser, clientId: string, scope: string, requestId: string): string {
  const scopes = scope
    .split(',')
    .map((name) => `<li>${escapeHtml(name)}</li>`)
    .join('');
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width,initial-scale=1">',
    '<title>WPS 365 — Authorize</title>',
    `<link rel="icon" href="data:image/svg+xml,${encodeURIComponent(LOGO)}">`,
    `<style>${CSS}</style></head><body>`,
    `<header class="top"><div class="top-in">${LOGO}<span class="brand">WPS 365</span>`,
    '<span class="sub">· Authorization</span></div></header>',
    '<main class="card">',
    '<h1>Authorize this application?</h1>',
    `<div class="account"><span class="avatar" aria-hidden="true">${escapeHtml(initialsOf(user.name))}</span>`,
    `<span>Signed in as <strong id="wps-user-name">${escapeHtml(user.name)}</strong></span></div>`,
    `<p>The application <code id="wps-client-id">${escapeHtml(clientId)}</code> asks for:</p>`,
    `<ul id="wps-scopes">${scopes}</ul>`,
    '<div class="actions">',
    decisionForm(requestId, 'deny', 'wps-deny', 'Deny'),
    decisionForm(requestId, 'allow', 'wps-allow', 'Allow'),
    '</div>',
    '<p class="fine">A fake WPS 365 for demos and tests, from <code>express-wps-oauth/testing</code>: nothing leaves this ' +
      'computer.</p>',
    '</main></body></html>',
  ].join('\n');
}
