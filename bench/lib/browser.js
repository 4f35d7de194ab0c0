'use strict';

/**
 * A minimal browser for signing in through real redirect flows over loopback: follows redirects by hand, keeps
 * cookies per origin (host:port — every bench server and identity provider shares 127.0.0.1), submits forms.
 */
class Browser {
  constructor() {
    /** @type {Map<string, Map<string, string>>} */
    this.jar = new Map();
  }

  /** The `Cookie` header this browser sends to `url`'s origin. */
  cookieHeader(url) {
    const cookies = this.jar.get(new URL(url).host);
    if (cookies === undefined || cookies.size === 0) return '';
    return [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  remember(url, setCookies) {
    const host = new URL(url).host;
    const cookies = this.jar.get(host) ?? new Map();
    this.jar.set(host, cookies);
    for (const line of setCookies) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => {
        const [key = '', val = ''] = a.trim().split('=');
        if (key.toLowerCase() === 'max-age') return Number(val) <= 0;
        if (key.toLowerCase() === 'expires') return Date.parse(val) <= Date.now();
        return false;
      });
      if (expired || value === '') cookies.delete(name);
      else cookies.set(name, value);
    }
  }

  /**
   * GET (or POST a form to) `url` and follow redirects, across origins, to the final answer.
   * @returns {Promise<{ status: number, url: string, body: string }>}
   */
  async go(url, form) {
    let target = url;
    let method = form === undefined ? 'GET' : 'POST';
    let body = form === undefined ? undefined : new URLSearchParams(form).toString();
    for (let hop = 0; hop < 20; hop++) {
      const headers = { cookie: this.cookieHeader(target), accept: 'text/html,application/json' };
      if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
      const res = await fetch(target, { method, headers, body, redirect: 'manual' });
      this.remember(target, res.headers.getSetCookie());
      const text = await res.text();
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location !== null) {
        target = new URL(location, target).href;
        method = 'GET';
        body = undefined;
        continue;
      }
      return { status: res.status, url: target, body: text };
    }
    throw new Error(`more than 20 redirects from ${url}`);
  }
}

module.exports = { Browser };
