// Sign-in: a `#token=` fragment (from far-node / POST /nodes/dashboard-token) wins and moves to
// sessionStorage, so the token leaves the address bar and dies with the tab.
const KEY = 'farlabs.dashboard.token';

export function takeToken() {
  const m = /[#&]token=([^&]+)/.exec(window.location.hash);
  if (m) {
    sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
    history.replaceState(null, '', window.location.pathname);
  }
  return sessionStorage.getItem(KEY);
}

export function storeToken(t) { sessionStorage.setItem(KEY, t); }
export function clearToken() { sessionStorage.removeItem(KEY); storeAppToken(null); }

// The playground's credential: inference is billed to an API key, not to a wallet sign-in. The key itself is used
// once, to mint a short-lived JWT (`POST /auth/token`); only that token is kept, and only in this tab.
const APP_TOKEN = 'farlabs.dashboard.appToken';
export function loadAppToken() { return sessionStorage.getItem(APP_TOKEN); }
export function storeAppToken(t) { if (t) sessionStorage.setItem(APP_TOKEN, t); else sessionStorage.removeItem(APP_TOKEN); }

export async function appTokenFromKey(apiKey) {
  const r = await fetch('/auth/token', { method: 'POST', headers: { authorization: `Bearer ${apiKey}` } });
  const j = await r.json().catch(() => null);
  if (!r.ok) throw new Error(j?.error?.message ?? `The server answered ${r.status}.`);
  return j.access_token;
}

/** The wallet a provider token was issued for (its `sub`), read without verifying: the server verifies. */
export function walletOf(token) {
  try { const c = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))); return c.wallet ?? c.wallet_address ?? c.sub; } catch { return null; }
}

/** EIP-191 sign-in with a browser wallet: challenge, personal_sign, verify. */
export async function walletSignIn() {
  if (!window.ethereum) throw new Error('No browser wallet found (window.ethereum).');
  const [address] = await window.ethereum.request({ method: 'eth_requestAccounts' });
  const post = (path, body) => fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    .then(async (r) => { const j = await r.json(); if (!r.ok) throw new Error(j?.error?.message ?? r.statusText); return j; });
  const ch = await post('/auth/wallet/challenge', { wallet_address: address });
  const signature = await window.ethereum.request({ method: 'personal_sign', params: [ch.message, address] });
  const tok = await post('/auth/wallet/verify', { wallet_address: address, nonce: ch.nonce, issued_at: ch.issued_at, signature });
  storeToken(tok.access_token);
  return tok.access_token;
}
