// What a page's restrictions do to dyce (Chromium), each a DyceError that
// names the cause and the remedy: a worker script that cannot start on a
// cross-origin-isolated page, and a Content-Security-Policy without
// 'wasm-unsafe-eval'.
import assert from 'node:assert/strict';
import test from 'node:test';

import { fakeBattery, openDemo, pageQuery } from './harness.mjs';

test('isolated: a worker script that cannot start is a DYCE_WORKER_ERROR naming the script and the headers it needs', async () => {
  const demo = await openDemo({ query: pageQuery({ signals: 'battery', fps: 10 }), initScript: fakeBattery, initArg: { level: 0.8, charging: true } });
  try {
    const got = await demo.page.evaluate(async () => {
      const { loadInWorker } = await import('/wasm/worker-client.mjs');
      try {
        await loadInWorker('/models/fashion-mnist.dyce', { workerUrl: '/no-such-folder/worker.mjs' });
        return null;
      } catch (e) {
        return { code: e.code, message: e.message, url: e.url, isolated: crossOriginIsolated };
      }
    });
    assert.ok(got, 'loadInWorker resolved');
    assert.equal(got.isolated, true);
    assert.equal(got.code, 'DYCE_WORKER_ERROR');
    assert.match(got.url, /^http:\/\/127\.0\.0\.1:\d+\/no-such-folder\/worker\.mjs$/);
    assert.match(got.message, /could not start \(is http:\/\/127\.0\.0\.1:\d+\/no-such-folder\/worker\.mjs served as JavaScript, status 200; on this cross-origin-isolated page it must be served with Cross-Origin-Embedder-Policy/);
  } finally {
    await demo.close();
  }
});

test("a Content-Security-Policy without 'wasm-unsafe-eval': DYCE_WASM_COMPILE says which directive to add", async () => {
  const demo = await openDemo({ query: pageQuery({ signals: 'battery', fps: 10 }), initScript: fakeBattery, initArg: { level: 0.8, charging: true } });
  try {
    const { page, url } = demo;
    const csp = "script-src 'self' 'unsafe-inline'";
    await page.route('**/csp-probe.html', (route) => route.fulfill({
      status: 200, headers: { 'content-type': 'text/html', 'content-security-policy': csp },
      body: `<!doctype html><script type="module">
        import { load } from '/wasm/index.mjs';
        try { await load('/models/fashion-mnist.dyce', { threads: 1 }); window.result = { loaded: true }; }
        catch (e) { window.result = { code: e.code, message: e.message }; }
      </script>`,
    }));
    await page.goto(new URL('/csp-probe.html', url).href);
    const got = await (await page.waitForFunction(() => window.result, null, { timeout: 60_000 })).jsonValue();
    assert.equal(got.code, 'DYCE_WASM_COMPILE', JSON.stringify(got));
    assert.match(got.message, /Content-Security-Policy forbids compiling WebAssembly: add 'wasm-unsafe-eval' to its script-src$/);
  } finally {
    await demo.close();
  }
});
