// The provider dashboard in a real headless Chromium (Debian's, driven by playwright-core), against the real mesh
// that tests/test_dashboard_browser.py prepared: a node online, a finished session, a confirmed payout.
//
// In:  FARLABS_BASE_URL, FARLABS_API_KEY (for the playground), FARLABS_WALLET_KEY (the provider wallet's hex key: the page's "browser wallet" signs with
//      it), FARLABS_DASHBOARD_LINK (what `far-node dashboard` printed), FARLABS_NODE_NAME, FARLABS_CHROMIUM,
//      FARLABS_ARTIFACTS (screenshots go there).
// Out: one JSON line of what the page showed; the Python test asserts on it. Any page error fails the run.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';

const env = (name) => { const v = process.env[name]; if (!v) throw new Error(`${name} is not set`); return v; };
const base = env('FARLABS_BASE_URL');
const account = privateKeyToAccount(`0x${env('FARLABS_WALLET_KEY').replace(/^0x/, '')}`);
const wallet = account.address.toLowerCase();
const nodeName = env('FARLABS_NODE_NAME');
const artifacts = env('FARLABS_ARTIFACTS');
mkdirSync(artifacts, { recursive: true });
const seen = { wallet, pageErrors: [], offLoopback: [] };
const pages = []; // every page opened, for screenshots when a step fails

// The flags the machine notes prescribe: no background traffic, which this closed network would refuse anyway.
const browser = await chromium.launch({
  executablePath: env('FARLABS_CHROMIUM'),
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});

async function openPage(viewport) {
  const context = await browser.newContext({ viewport, isMobile: viewport.width < 500, hasTouch: viewport.width < 500 });
  const page = await context.newPage();
  pages.push(page);
  page.on('pageerror', (e) => seen.pageErrors.push(String(e)));
  // Nothing but the server: a request elsewhere (a CDN, fonts, analytics) is a defect, recorded and refused.
  await context.route('**/*', (route) => {
    const { hostname } = new URL(route.request().url());
    if (hostname === '127.0.0.1' || hostname === 'localhost') return route.continue();
    seen.offLoopback.push(route.request().url());
    return route.abort();
  });
  return page;
}

// How far anything sticks out sideways: past the screen, or past its card (long unbroken model output).
const overflowPx = (page) => page.evaluate(() => Math.max(
  document.documentElement.scrollWidth - window.innerWidth,
  ...[...document.querySelectorAll('header > *, .card')].map((e) => e.getBoundingClientRect().right - window.innerWidth),
  ...[...document.querySelectorAll('.card')].map((c) => c.scrollWidth - c.clientWidth)));
// A page whose "browser wallet" (window.ethereum) signs with `signer`, signed in through the page's own button.
async function walletPage(signer, screenshot) {
  const page = await openPage({ width: 1280, height: 900 });
  await page.exposeFunction('__farSign', (message) => signer.signMessage({ message }));
  await page.addInitScript((address) => {
    window.ethereum = {
      async request({ method, params }) {
        if (method === 'eth_requestAccounts') return [address];
        if (method === 'personal_sign') return window.__farSign(params[0]);
        throw new Error(`unsupported wallet method ${method}`);
      },
    };
  }, signer.address);
  await page.goto(`${base}/dashboard`);
  if (screenshot) await page.screenshot({ path: join(artifacts, screenshot) });
  await page.getByRole('button', { name: 'Sign in with wallet' }).click();
  await page.locator('header code', { hasText: signer.address.toLowerCase() }).waitFor({ timeout: 15000 });
  return page;
}

const text = (page, selector) => page.locator(selector).first().innerText();
// The exact amounts behind the headline (the page may show them cut short, exact on hover and in data-far).
const amounts = (page) => page.locator('.big .far').evaluateAll((es) => ({ paid: es[0].dataset.far, unpaid: es[1].dataset.far }));

try {
  // --- desktop: sign in with the "browser wallet" (EIP-191 personal_sign) -------------------------------------
  const page = await walletPage(account, 'dashboard-signin.png');
  seen.signedInAs = await text(page, 'header code');

  const node = page.locator('li.node', { hasText: nodeName });
  await node.locator('.dot.on').waitFor({ timeout: 15000 });
  seen.nodeLine = await node.innerText();
  seen.hardware = await text(page, 'section:has(h2:text("Hardware")) li');
  await page.locator('.big').waitFor({ timeout: 15000 });
  seen.before = await amounts(page);
  seen.earningBars = await page.locator('svg[aria-label="FAR per day"] rect').count();
  seen.earningsByNode = await text(page, '.by-node li');
  const tx = page.locator('section:has(h2:text("Payments")) tbody tr code[title^="0x"]').first();
  await tx.waitFor({ timeout: 15000 });
  seen.paymentTx = await tx.getAttribute('title');
  seen.paymentRow = await page.locator('section:has(h2:text("Payments")) tbody tr').first().innerText();

  // --- the playground streams through useFarMesh; count the distinct lengths the answer passes through ------
  await page.evaluate(() => {
    window.__lengths = new Set();
    new MutationObserver(() => {
      const p = document.querySelector('.playground p.assistant');
      if (p) window.__lengths.add(p.textContent.length);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  // inference is billed to an API key: a wallet sign-in alone cannot stream (the server says 403). A wrong key is
  // refused with the server's message; the right one is traded for a short-lived token, and the key is not kept.
  seen.playgroundAsksForKey = await page.getByLabel('API key').count();
  await page.getByLabel('API key').fill('fl_not-a-real-key');
  await page.getByRole('button', { name: 'Use key' }).click();
  seen.badKeyError = await page.locator('.playground .error').innerText();
  await page.getByLabel('API key').fill(env('FARLABS_API_KEY'));
  await page.getByRole('button', { name: 'Use key' }).click();
  await page.getByPlaceholder('Ask the mesh…').fill('Say something about the sea.');
  await page.getByRole('button', { name: 'Send' }).click();
  await page.getByRole('button', { name: 'Stop' }).waitFor({ timeout: 15000 });
  await page.getByRole('button', { name: 'Send' }).waitFor({ timeout: 60000 });
  seen.answer = await text(page, '.playground p.assistant');
  seen.streamedLengths = await page.evaluate(() => window.__lengths.size);
  seen.playgroundError = await page.locator('.playground .error').count();
  seen.keyKept = await page.evaluate((key) => Object.values(sessionStorage).some((v) => v.includes(key)), env('FARLABS_API_KEY'));

  // --- live update: the answer just credited this wallet's node; the page shows it without a reload ---------
  await page.waitForFunction((before) => {
    const unpaid = document.querySelectorAll('.big .far')[1]?.dataset.far;
    return unpaid !== undefined && unpaid !== before;
  }, seen.before.unpaid, { timeout: 20000 });
  seen.after = await amounts(page);
  seen.desktopOverflowPx = await overflowPx(page);
  await page.screenshot({ path: join(artifacts, 'dashboard-desktop.png'), fullPage: true });

  // --- phone: the link `far-node dashboard` printed signs in without a wallet -------------------------------
  const phone = await openPage({ width: 390, height: 844 });
  await phone.goto(env('FARLABS_DASHBOARD_LINK'));
  await phone.locator('header code', { hasText: wallet }).waitFor({ timeout: 15000 });
  await phone.locator('li.node', { hasText: nodeName }).locator('.dot.on').waitFor({ timeout: 15000 });
  seen.phoneUrl = phone.url(); // the token must have left the address bar
  seen.phoneOverflowPx = await overflowPx(phone);
  await phone.screenshot({ path: join(artifacts, 'dashboard-phone.png'), fullPage: true });

  // --- a wallet with no nodes yet sees empty states; a bad token sees errors, not a blank page ---------------
  const newcomer = await walletPage(privateKeyToAccount(generatePrivateKey()));
  await newcomer.locator('section:has(h2:text("Nodes")) .muted', { hasText: 'Nothing yet.' }).waitFor({ timeout: 15000 });
  // each card loads on its own request: give the slowest one the same 15 s before counting
  const empty = newcomer.locator('.card .muted', { hasText: 'Nothing yet.' });
  for (let waited = 0; waited < 15000 && (await empty.count()) < 4; waited += 100) await newcomer.waitForTimeout(100);
  seen.emptyCards = await empty.count();
  // a link that is no token at all, and one whose signature was tampered with (the server says 401)
  const link = env('FARLABS_DASHBOARD_LINK');
  seen.signInErrors = [];
  for (const bad of [`${base}/dashboard#token=not-a-token`, link.slice(0, -4) + (link.endsWith('AAAA') ? 'BBBB' : 'AAAA')]) {
    const broken = await openPage({ width: 1280, height: 900 });
    await broken.goto(bad);
    await broken.locator('.signin .error').waitFor({ timeout: 15000 });
    seen.signInErrors.push(await text(broken, '.signin .error'));
  }

  // --- signing out forgets the token ---------------------------------------------------------------------------
  await phone.getByRole('button', { name: 'Sign out' }).click();
  await phone.getByRole('button', { name: 'Sign in with wallet' }).waitFor({ timeout: 5000 });
  seen.signedOut = true;
} catch (error) {
  // What each page showed when the step failed, for whoever reads the test's artifacts.
  for (const [i, p] of pages.entries()) await p.screenshot({ path: join(artifacts, `failure-${i}.png`) }).catch(() => {});
  console.error(JSON.stringify(seen));
  throw error;
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
